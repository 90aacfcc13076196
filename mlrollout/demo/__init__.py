"""`make demo` on the cluster: install, train, promote / reject / roll back, summarise."""
