"""The process whose memory is the bundled sample dump (sample.zst).

Run under an empty environment in a neutral directory, then capture its private anonymous
memory while it sleeps:

    mkdir -p /tmp/neutral && cd /tmp/neutral
    env -i /usr/bin/python3 -S -E make_sample.py &      # prints READY when built
    zdensity capture PID --out sample.zst               # or kernel-oracle's dump-process-memory

It builds the kinds of data a long-running interpreter holds: a word-frequency dict,
generated English-like text, lists of tuples, floats, nested records, a block of random
(incompressible) bytes, zeroed and same-filled buffers.  Deterministic: fixed seed.
"""

import array
import random
import sys
import time

rng = random.Random(2012)
syll = ["ka", "zo", "mi", "ru", "te", "la", "po", "shi", "an", "el", "or", "un", "ber", "gen", "tor"]
words = ["".join(rng.choice(syll) for _ in range(rng.randint(1, 4))) for _ in range(20000)]
freq = {}
text_parts = []
for i in range(180000):
    w = words[int(rng.paretovariate(1.2)) % len(words)]
    freq[w] = freq.get(w, 0) + 1
    text_parts.append(w)
text = " ".join(text_parts)
sentences = [text[i:i + rng.randint(40, 200)].capitalize() + "." for i in range(0, len(text), 150)]
records = [
    {"id": i, "name": words[i % len(words)], "score": rng.random() * 100, "tags": [words[(i * 7) % len(words)], i % 13]}
    for i in range(40000)
]
pairs = [(i, i * i, str(i)) for i in range(60000)]
floats = array.array("d", (rng.gauss(0, 1) for _ in range(150000)))
ints = array.array("q", sorted(rng.randrange(1 << 40) for _ in range(100000)))
noise = bytes(rng.getrandbits(8) for _ in range(400 * 4096))
zeros = bytearray(300 * 4096)
zeros[:] = bytes(len(zeros))
same = array.array("Q", [0x0101010101010101]) * (100 * 512)
print("READY", flush=True)
sys.stdout.flush()
time.sleep(3600)
