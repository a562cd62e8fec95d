"""Collecting mail: from a mailbox to inbox documents, without ever losing a message.

``pipeline.collect_all`` is the entry point (CLI ``fetch``, the scheduler, the "collect now"
button). The order of operations is the guarantee: raw bytes on disk and a committed row before
any processing; documents committed before the server copy is deleted.
"""
