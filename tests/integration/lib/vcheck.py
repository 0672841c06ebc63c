#!/usr/bin/python3
"""Checks on the verifier's output (trace / where-used / verify-bundle), for the tests.
Each subcommand prints what is wrong to stderr and exits 1, or exits 0 silently.

  vcheck.py dot DOTFILE JSONFILE
      DOTFILE (--format dot) is a digraph with one node per record of JSONFILE (--json of
      the same walk; a node's label ends with the first 12 hex digits of its record id)
      and exactly one edge per parent link there (trace: parent -> record; where-used:
      record -> child), no other edge.
  vcheck.py reach JSONFILE FROM_ID TO_ID
      where-used: TO_ID is reachable from FROM_ID along "children" links.
  vcheck.py same JSON_A JSON_B
      the same verdict, the same record ids, the same parents of each record and the same
      findings (code, severity, record) -- e.g. trace on a node and verify-bundle offline.
  vcheck.py parents JSONFILE EXPECT.json
      EXPECT: {ID: {"org": ORG, "type": T, "parents": [ID...], "items": [ITEM...]}} for
      every record: JSONFILE has exactly these records (held), with exactly these parent
      sets, and each record's items include the given ones.
"""
import json
import re
import sys


def fail(msg):
    print("vcheck: " + msg, file=sys.stderr)
    sys.exit(1)


def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError) as e:
        fail("cannot read %s: %s" % (path, e))


def links(doc):
    """(from, to) pairs as drawn: trace parent -> record; where-used record -> child."""
    out = set()
    for r in doc["records"]:
        if "children" in r:
            for c in r["children"]:
                out.add((r["id"], c))
        else:
            for p in r["parents"]:
                out.add((p, r["id"]))
    return out


def cmd_dot(dot_path, json_path):
    text = open(dot_path).read()
    doc = load(json_path)
    if not re.match(r'\s*digraph\b', text):
        fail("%s does not start with 'digraph': %r" % (dot_path, text[:80]))
    if text.count("{") < 1 or not text.rstrip().endswith("}"):
        fail("%s is not a braced graph body" % dot_path)
    nodes = {}
    for m in re.finditer(r'^\s*(\w+)\s*\[label="([^"]*)"', text, re.M):
        hexes = re.findall(r'[0-9a-f]{12}', m.group(2))
        if not hexes:
            fail("node %s has no record id in its label %r" % (m.group(1), m.group(2)))
        nodes[m.group(1)] = hexes[-1]
    ids = {r["id"][:12]: r["id"] for r in doc["records"]}
    if sorted(nodes.values()) != sorted(ids):
        fail("dot nodes %s, json records %s" % (sorted(nodes.values()), sorted(ids)))
    edges = []
    for m in re.finditer(r'^\s*(\w+)\s*->\s*(\w+)\s*;', text, re.M):
        a, b = m.group(1), m.group(2)
        if a not in nodes or b not in nodes:
            fail("edge %s -> %s names an undeclared node" % (a, b))
        edges.append((ids[nodes[a]], ids[nodes[b]]))
    want = links(doc)
    if len(edges) != len(set(edges)):
        fail("duplicate edges in %s" % dot_path)
    if set(edges) != want:
        fail("dot edges differ from the json links: extra %s, missing %s"
             % ([(a[:8], b[:8]) for a, b in set(edges) - want],
                [(a[:8], b[:8]) for a, b in want - set(edges)]))


def cmd_reach(json_path, src, dst):
    doc = load(json_path)
    kids = {r["id"]: r.get("children", []) for r in doc["records"]}
    seen, todo = {src}, [src]
    while todo:
        x = todo.pop()
        if x == dst:
            return
        for c in kids.get(x, []):
            if c not in seen:
                seen.add(c)
                todo.append(c)
    fail("%s.. is not reachable from %s.. along children links" % (dst[:16], src[:16]))


def summary(doc):
    recs = {r["id"]: sorted(r.get("parents", [])) for r in doc["records"]}
    finds = sorted((f["code"], f["severity"], f.get("record") or "") for f in doc["findings"])
    return doc["verdict"], recs, finds


def cmd_same(a_path, b_path):
    va, ra, fa = summary(load(a_path))
    vb, rb, fb = summary(load(b_path))
    if va != vb:
        fail("verdict %s vs %s" % (va, vb))
    if sorted(ra) != sorted(rb):
        fail("record ids differ: only in %s %s, only in %s %s"
             % (a_path, sorted(set(ra) - set(rb)), b_path, sorted(set(rb) - set(ra))))
    for rid in ra:
        if ra[rid] != rb[rid]:
            fail("parents of %s differ: %s vs %s" % (rid[:16], ra[rid], rb[rid]))
    if fa != fb:
        fail("findings differ: %s vs %s" % (fa, fb))


def cmd_parents(json_path, expect_path):
    doc = load(json_path)
    want = load(expect_path)
    got = {r["id"]: r for r in doc["records"]}
    errs = []
    if len(doc["records"]) != len(got):
        errs.append("a record id appears twice in .records")
    for rid in sorted(set(want) - set(got)):
        errs.append("missing record %s (%s %s)" % (rid[:16], want[rid]["org"], want[rid]["type"]))
    for rid in sorted(set(got) - set(want)):
        errs.append("unexpected record %s (%s %s)" % (rid[:16], got[rid].get("org"), got[rid].get("type")))
    for rid in sorted(set(want) & set(got)):
        w, g = want[rid], got[rid]
        what = "%s %s %s.." % (w["org"], w["type"], rid[:16])
        if g.get("held") is False:
            errs.append("%s: held false" % what)
        if g.get("org") != w["org"] or g.get("type") != w["type"]:
            errs.append("%s: org/type in output %s/%s" % (what, g.get("org"), g.get("type")))
        if sorted(g.get("parents", [])) != sorted(w["parents"]):
            errs.append("%s: parents %s, expected %s" % (
                what, [p[:8] for p in g.get("parents", [])], [p[:8] for p in w["parents"]]))
        for it in w.get("items", []):
            if it not in g.get("items", []):
                errs.append("%s: items %s lack %s" % (what, g.get("items"), it))
    if errs:
        fail("; ".join(errs))


def main(argv):
    cmds = {"dot": (cmd_dot, 2), "reach": (cmd_reach, 3), "same": (cmd_same, 2),
            "parents": (cmd_parents, 2)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    cmds[argv[1]][0](*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
