"""Canned Cypher queries, one readable .cypher file each; shipped as package data."""
