"""The read-only dashboard of ModelPromotions that `kubectl mlrollout dashboard` serves locally.

It runs on the user's machine and reads the API through the user's kubeconfig (as `kubectl argo
rollouts dashboard` does): no component in the cluster and no RBAC of its own, so it shows
exactly what its user may list. `kube_source` lists and watches the promotions into a `feed`,
which keeps the latest `view` of each and fans changes out to the browsers the `app` streams
them to (server-sent events); `static/` is the page.
"""
