#!/usr/bin/python3
"""Checks a node's log against the attempts of a hostile peer (peer.py attack --results-out).

  hostile_check.py --log FILE --mark BYTES --regex RE --results FILE [--results FILE]...
                   [--wait S]

For every attempt (one JSON line with its "local" HOST:PORT), the node's log after byte
MARK must hold exactly one INFO line "peer LOCAL [(org)] disconnected: WHY" with WHY
matching RE (extended regex, searched), and nothing else about LOCAL but its "connected,
inbound" line. The log is read again until that holds or S seconds (default 15) have
passed: the node writes the line when it closes the connection, which the attacker may
see a moment before the line is written.

Prints one line of JSON: attempts, with_reason (attempts whose line matched RE), missing
(attempts without a disconnection line), extra (more lines than attempts for an address),
other (other lines about the attackers' addresses), mismatched (lines not matching RE),
the first few examples of each problem, and reasons: the distinct reasons (digits
replaced by N) with their counts. Exit 0 if every attempt checks out, 1 if not, 2 on bad
usage.
"""
import argparse
import collections
import json
import re
import sys
import time

LINE = re.compile(r" INFO peer (\S+) (?:\([^)]*\) )?(?:disconnected: (.*)|(connected, inbound))$")
PEER = re.compile(r" (?:INFO|WARN|ERROR|DEBUG) peer (\S+?):? ")


def read_attempts(paths):
    """Count of attempts per local address (a port may be used twice in a long run)."""
    want = collections.Counter()
    for path in paths:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if r.get("local"):
                    want[r["local"]] += 1
    return want


def scan(log, mark, want):
    """Per attacker address: its disconnection reasons, and its other lines."""
    with open(log, "rb") as f:
        f.seek(mark)
        text = f.read().decode("utf-8", "replace")
    reasons = collections.defaultdict(list)
    other = collections.defaultdict(list)
    for line in text.splitlines():
        m = LINE.search(line)
        if m and m.group(1) in want:
            if m.group(2) is not None:
                reasons[m.group(1)].append(m.group(2))
            continue
        p = PEER.search(line)
        if p and p.group(1) in want:
            other[p.group(1)].append(line)
    return reasons, other


def check(args):
    want = read_attempts(args.results)
    regex = re.compile(args.regex)
    deadline = time.monotonic() + args.wait
    while True:
        reasons, other = scan(args.log, args.mark, want)
        missing = [a for a, n in want.items() if len(reasons.get(a, [])) < n]
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(0.2)  # polling the log for lines still to be written
    extra = [a for a, n in want.items() if len(reasons.get(a, [])) > n]
    mismatched = [(a, r) for a in want for r in reasons.get(a, []) if not regex.search(r)]
    counted = collections.Counter(re.sub(r"[0-9]+", "N", r)
                                  for a in want for r in reasons.get(a, []))
    others = [line for a in want for line in other.get(a, [])]
    result = {
        "attempts": sum(want.values()),
        "with_reason": sum(1 for a in want for r in reasons.get(a, []) if regex.search(r)),
        "missing": len(missing), "missing_first": missing[:3],
        "extra": len(extra), "extra_first": [(a, reasons[a]) for a in extra[:3]],
        "mismatched": len(mismatched), "mismatched_first": mismatched[:3],
        "other": len(others), "other_first": others[:3],
        "reasons": dict(counted.most_common()),
    }
    ok = not missing and not extra and not mismatched and not others
    return result, ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", required=True)
    ap.add_argument("--mark", type=int, required=True)
    ap.add_argument("--regex", required=True)
    ap.add_argument("--results", action="append", required=True)
    ap.add_argument("--wait", type=float, default=15.0)
    args = ap.parse_args()
    try:
        result, ok = check(args)
    except (OSError, ValueError) as e:
        print(json.dumps({"error": str(e)}))
        return 2
    print(json.dumps(result, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
