"""`make bench-operator`: N ModelPromotions applied at once on the real cluster."""
