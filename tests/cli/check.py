#!/usr/bin/env python3
"""Assertions on qgraph's outputs for the CLI tests (JSON, NDJSON, CSV).

Usage: check.py <command> args...
  rows-equal ACTUAL EXPECTED        two JSON arrays of objects, equal as multisets
  nodes-rows OUT NODE               node rows of a shape=nodes JSON output -> JSON array
  joined-rows OUT                   rows of a shape=joined JSON output -> JSON array
  ndjson OUT                        each line parsed -> JSON array
  ndjson-nodes OUT NODE             rows of node NODE from shape=nodes NDJSON
  csv OUT                           CSV with a header -> JSON array of objects (text values)
  csv-nodes OUT NODE                the "# node: NODE" section of shape=nodes CSV
  texts JSONFILE                    JSON array of objects with every value as CSV text
  nested OUT ROOT.json ROOTKEY CHILD CHILD.json CHILDKEY [GRANDCHILD GC.json GCPARENTKEY GCKEY]
                                    shape=nested JSON equals the expected nesting
  expr JSONFILE PYEXPR              PYEXPR (over `j`) is true
"""
import csv
import io
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def canon(rows):
    return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows)


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def rows_equal(actual, expected, what="rows"):
    a, e = canon(actual), canon(expected)
    if a != e:
        missing = [x for x in e if x not in a]
        extra = [x for x in a if x not in e]
        die(f"{what} differ: {len(a)} actual vs {len(e)} expected\n"
            f"  missing: {missing[:10]}\n  unexpected: {extra[:10]}")


def nodes_rows(out, node):
    n = out["nodes"][node]
    cols = n["columns"]
    return [dict(zip(cols, r)) for r in n["rows"]]


def as_text(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def parse_csv(text):
    return [dict(r) for r in csv.DictReader(io.StringIO(text))]


def nest(roots, root_key, child, children, child_key, sub=None):
    out = []
    for r in roots:
        r = dict(r)
        kids = [dict(c) for c in children if c[child_key] == r[root_key]]
        if sub:
            gname, gc, gparent, gkey = sub
            for k in kids:
                k[gname] = [dict(g) for g in gc if g[gkey] == k[gparent]]
                k[gname] = sorted(k[gname], key=lambda x: json.dumps(x, sort_keys=True))
        r[child] = sorted(kids, key=lambda x: json.dumps(x, sort_keys=True))
        out.append(r)
    return out


def normalise_nested(doc, root, child, grandchild=None):
    rows = []
    for r in doc[root]:
        r = dict(r)
        kids = []
        for k in r.get(child, []):
            k = dict(k)
            if grandchild:
                k[grandchild] = sorted(k.get(grandchild, []),
                                       key=lambda x: json.dumps(x, sort_keys=True))
            kids.append(k)
        r[child] = sorted(kids, key=lambda x: json.dumps(x, sort_keys=True))
        rows.append(r)
    return rows


def main(argv):
    cmd = argv[1]
    if cmd == "rows-equal":
        rows_equal(load(argv[2]), load(argv[3]))
    elif cmd == "nodes-rows":
        print(json.dumps(nodes_rows(load(argv[2]), argv[3])))
    elif cmd == "joined-rows":
        print(json.dumps(load(argv[2])["rows"]))
    elif cmd == "ndjson":
        with open(argv[2], encoding="utf-8") as f:
            lines = [l for l in f.read().split("\n") if l.strip()]
        print(json.dumps([json.loads(l) for l in lines]))
    elif cmd == "ndjson-nodes":
        with open(argv[2], encoding="utf-8") as f:
            lines = [json.loads(l) for l in f.read().split("\n") if l.strip()]
        print(json.dumps([l["row"] for l in lines if l["node"] == argv[3]]))
    elif cmd == "csv":
        with open(argv[2], encoding="utf-8", newline="") as f:
            print(json.dumps(parse_csv(f.read())))
    elif cmd == "csv-nodes":
        with open(argv[2], encoding="utf-8", newline="") as f:
            text = f.read()
        sections = {}
        current = None
        for line in text.splitlines(keepends=True):
            if line.startswith("# node: "):
                current = line[len("# node: "):].strip()
                sections[current] = ""
            elif current is not None:
                sections[current] += line
        if argv[3] not in sections:
            die(f"no section for node {argv[3]}; sections: {list(sections)}")
        print(json.dumps(parse_csv(sections[argv[3]].strip("\r\n") + "\n")))
    elif cmd == "texts":
        print(json.dumps([{k: as_text(v) for k, v in r.items()} for r in load(argv[2])]))
    elif cmd == "nested":
        out = load(argv[2])
        roots, root_key, child = load(argv[3]), argv[4], argv[5]
        children, child_key = load(argv[6]), argv[7]
        sub = None
        gname = None
        if len(argv) > 8:
            gname = argv[8]
            sub = (gname, load(argv[9]), argv[10], argv[11])
        root_name = [k for k in out.keys()]
        if len(root_name) != 1:
            die(f"nested output should have one root key, has {root_name}")
        expected = nest(roots, root_key, child, children, child_key, sub)
        rows_equal(normalise_nested(out, root_name[0], child, gname), expected, "nested rows")
    elif cmd == "expr":
        j = load(argv[2])
        if not eval(argv[3], {"j": j, "len": len, "sorted": sorted, "set": set}):
            die(f"expression is false: {argv[3]}\n  on: {json.dumps(j)[:1500]}")
    else:
        die(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
