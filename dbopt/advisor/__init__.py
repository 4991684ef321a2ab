"""Missing-index advice: parse the heavy queries, build candidate indexes, prove them
with hypothetical indexes (hypopg), and check the set against every other heavy query."""
