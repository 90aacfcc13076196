"""`kubectl mlrollout`: the kubectl plugin that shows and operates ModelPromotions."""
