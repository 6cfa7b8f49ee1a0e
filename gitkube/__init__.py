"""gitkube: Kubernetes manifests from Git, applied to plain Docker hosts."""

__version__ = "0.1.0"
