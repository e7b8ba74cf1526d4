"""The UCI Online Retail export (a UK gift retailer, 2010-12 to 2011-12) mapped onto the raw-data
contract and run through the pipeline: `make example-online-retail`. What the export holds and how
it is read is `mapping.yml` (columns, time zone, currency, code rules, run settings); the decisions
are in `examples.online_retail.mapping`; what a run produces is in this folder's README."""
