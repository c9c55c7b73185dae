"""Merges the sections of a partial benchmark run into docs/benchmarks.md: each scenario writes
one '## <title>' section preceded by an '<!-- scenario: name -->' marker."""
import re
import sys

target, partial, names = sys.argv[1], sys.argv[2], sys.argv[3:]


def sections(text):
    parts = re.split(r"(?m)^<!-- scenario: (\S+) -->\n", text)
    head, out = parts[0], {}
    for i in range(1, len(parts), 2):
        out[parts[i]] = parts[i + 1]
    return head, out


try:
    old = open(target).read()
except FileNotFoundError:
    old = ""
new = open(partial).read()
old_head, old_secs = sections(old)
new_head, new_secs = sections(new)
for n in names:
    if n in new_secs:
        old_secs[n] = new_secs[n]
head = new_head if not old_head.strip() else new_head
with open(target, "w") as f:
    f.write(head)
    for n in sorted(old_secs):
        f.write("<!-- scenario: %s -->\n" % n)
        f.write(old_secs[n])
