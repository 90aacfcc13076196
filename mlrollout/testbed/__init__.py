"""What `make demo` and the e2e tier share to drive a cluster, in one place.

kubectl and helm on one kubeconfig (`tools`), the images `make images` built (`images`), the
demo models in a real MLflow server (`models`), ModelPromotion bodies followed to a verdict
through the status model (`promotions`), and a client that counts every failed request
(`traffic`). It ships with the package so the demo runs as `python -m mlrollout.demo`; the
tests import it instead of keeping copies of their own.
"""
