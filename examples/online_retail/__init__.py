"""The UCI Online Retail export (a UK gift retailer, 2010-12 to 2011-12) mapped onto the raw-data
contract and run through the pipeline: `make example-online-retail`. The mapping rules are in
`examples.online_retail.mapping`; what a run produces is in this folder's README."""
