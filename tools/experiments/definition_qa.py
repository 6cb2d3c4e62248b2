"""Probe used once for docs/BENCHMARKS.md (PopQA, "probes on the oracle adapter"): put one definitional question
("Who or what is X?" -> "a Y ...", from a first sentence "X (...) is/was a Y ...") in front of each record's template
QA pairs. Not part of rg: it tests whether such a question makes a document's adapter answer PopQA's
"What is X's occupation?". Usage: python definition_qa.py IN.jsonl OUT.jsonl (rg augment records)."""
import json
import re
import sys


def definition(passage: str):
    first = re.split(r"(?<=[a-z0-9)])\.\s+(?=[A-Z])", passage)[0]
    m = re.match(r"^(.{2,90}?)(?:\s*\([^)]*\))?\s+(is|was|are|were)\s+((?:an?|the)\s+.+)$", first)
    if not m:
        return None
    answer = " ".join(re.split(r",|;| who | which | that | from | in \d", m.group(3))[0].split()[:12])
    return {"question": f"Who or what {m.group(2)} {m.group(1).strip()}?", "answer": answer, "fullAnswer": first}


def main(src: str, dst: str) -> None:
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            record = json.loads(line)
            pair = definition(record["passage"])
            if pair:
                record["qa"] = [pair] + record["qa"][:5]
            out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
