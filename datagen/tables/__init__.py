"""The rows of each landing table, one module per source, from the simulated behaviour.

Base values come from the block's base streams; every defect comes from its own dirt stream
(datagen.dirt.DirtDraw), so the clean data of a seed is the same whatever the dirt rates. What a
defect does to a row lives in datagen.dirt when more than one table uses it; a defect of one table
only lives beside that table.
"""
