"""The Azure path of the code location: identity rules, Pipes over Blob, task configs from a Blob container.

Nothing here runs at import of the definitions; Azure SDK clients are built when a resource or launcher needs them,
from explicit settings only (see ``identity``).
"""
