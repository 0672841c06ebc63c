#!/usr/bin/python3
"""Event generators for the integration tests (JSON Lines for `tracectl submit`).

  story.py story N EVENTS.jsonl META.json
      A manufacturing story for org acme, 5 events per unit k (N must be a multiple of 5):
        commission  raw part A_k (attrs: material, lot; every 3rd with its own "time")
        commission  raw part B_k (attrs)
        transform   A_k + B_k -> board P_k (attrs: line, station)
        transform   P_k -> packaged unit Q_k (every 10th with "private" unit cost)
        ship        Q_k to shipco (attrs: waybill)
      META.json lists, per event index: type, items, input items with the index of the
      event that produced each input, attrs, private fields, time (if given).

  story.py sample META.json COUNT SEED
      COUNT event indices to check in depth: the first and last five, every kind of
      event, several with private fields, the rest at random (seeded).

  story.py bulk PREFIX N [START]
      N commission events with unique items PREFIX-i (i from START), for load tests.
"""
import json
import random
import sys

T0 = 1700000000000  # an EPCIS-style eventTime base (ms since the epoch)


def story(n, events_path, meta_path):
    if n % 5:
        raise SystemExit("story: N must be a multiple of 5")
    events, meta = [], []
    produced = {}  # item -> index of the event that last named it

    def add(ev, inputs=()):
        idx = len(events)
        m = {
            "index": idx,
            "type": ev["type"],
            "attrs": ev.get("attrs", {}),
            "private": ev.get("private", {}),
            "time": ev.get("time"),
            "outputs": ev.get("outputs", []),
            "items": ev.get("items", []),
            "to": ev.get("to"),
            "inputs": [{"item": it, "producer": produced.get(it)} for it in inputs],
        }
        events.append(ev)
        meta.append(m)
        for it in ev.get("outputs", []) + ev.get("items", []):
            produced[it] = idx
        return idx

    for k in range(n // 5):
        a = "urn:epc:id:sgtin:0614141.100001.%d" % k
        b = "urn:epc:id:sgtin:0614141.100002.%d" % k
        p = "urn:epc:id:sgtin:0614141.200001.%d" % k
        q = "https://id.acme.example/01/00614141200018/21/%d" % k
        ev = {"type": "commission", "outputs": [a],
              "attrs": {"material": "FR-4 laminate", "lot": "L%04d" % (k // 10), "qty": 1}}
        if k % 3 == 0:
            ev["time"] = T0 + k * 1000
        add(ev)
        add({"type": "commission", "outputs": [b],
             "attrs": {"material": "copper foil", "lot": "C%04d" % (k // 10), "rohs": True}})
        add({"type": "transform", "inputs": [a, b], "outputs": [p],
             "attrs": {"line": "SMT-%d" % (k % 4), "station": k % 17}}, inputs=[a, b])
        ev = {"type": "transform", "inputs": [p], "outputs": [q],
              "attrs": {"step": "packaging"}}
        if k % 10 == 0:
            ev["private"] = {"unit-cost": "PRIV-unitcost-%d-7f3k9q" % k,
                             "supplier-price": "PRIV-price-%d-x8w2m" % k}
        add(ev, inputs=[p])
        add({"type": "ship", "items": [q], "to": "shipco",
             "attrs": {"waybill": "WB-%06d" % k}})

    with open(events_path, "w") as f:
        for ev in events:
            f.write(json.dumps(ev, sort_keys=False) + "\n")
    with open(meta_path, "w") as f:
        json.dump(meta, f)


def sample(meta_path, count, seed):
    meta = json.load(open(meta_path))
    n = len(meta)
    rng = random.Random(seed)
    chosen = []

    def take(i):
        if 0 <= i < n and i not in chosen and len(chosen) < count:
            chosen.append(i)

    for i in list(range(5)) + list(range(n - 5, n)):
        take(i)
    private = [m["index"] for m in meta if m["private"]]
    for i in rng.sample(private, min(6, len(private))):
        take(i)
    for kind in ("commission", "transform", "ship"):
        cands = [m["index"] for m in meta if m["type"] == kind]
        take(rng.choice(cands))
    while len(chosen) < min(count, n):
        take(rng.randrange(n))
    print("\n".join(str(i) for i in sorted(chosen)))


def bulk(prefix, n, start):
    out = sys.stdout
    for i in range(start, start + n):
        out.write(json.dumps({"type": "commission", "outputs": ["%s-%d" % (prefix, i)],
                              "attrs": {"batch": prefix, "n": i}}) + "\n")


def main(argv):
    if len(argv) == 5 and argv[1] == "story":
        story(int(argv[2]), argv[3], argv[4])
    elif len(argv) == 5 and argv[1] == "sample":
        sample(argv[2], int(argv[3]), int(argv[4]))
    elif len(argv) in (4, 5) and argv[1] == "bulk":
        bulk(argv[2], int(argv[3]), int(argv[4]) if len(argv) == 5 else 0)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
