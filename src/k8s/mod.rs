//! Kubernetes objects (as JSON) that Lichen reads: the cluster-dir source and the API source.
