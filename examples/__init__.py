"""Worked "bring your own data" examples: real exports mapped onto the raw-data contract and run
through the same pipeline as the demo data, each into a warehouse of its own."""
