"""Behaviour of one block of contacts: orders (past and future), e-mail engagement, web sessions.

Everything here is numeric (indices, seconds, cents); datagen.tables turns it into text. Every
function draws from its own named stream of the block, so skipping a source never changes another.
One module per behaviour, plus the run's Plan that they all share.
"""
