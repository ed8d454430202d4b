"""Translation twins, found when articles are written (issue 28), read when questions are answered.

* `align.py`: pure functions over sentence vectors: which articles translate each other, which
  sentences match;
* `find.py`: an article's twin in a snapshot (dense search, the alignment check) and its
  sentence links, with the caches that spare encodes;
* `links.py`: the links of one commit as a checksummed file the commit names, and how a write
  brings them up to date (the articles it adds, and the partners of those it replaces or removes).
* `batch.py`: a commit's check of many articles at once (a build's last commit): a bound that
  rules most out and their first dense searches together, finding what one at a time finds.

The writer (`segments/writer.py`) finds the twins of what it adds before it commits; the answer
stage (`retrieval/answer/twins.py`) only reads the links, and finds twins per question only when a
commit has none (an index written before them, or a damaged file).
"""
