"""dpkit e2e shim: the small `TimeoutIterator` that Flower 1.x's gRPC-bidi servicer imports from
the PyPI package `iterators` (not packaged by Debian). Written for dpkit from the documented
behaviour: next() returns the sentinel when no item arrives within the timeout. Not Flower code."""
import queue
import threading


class TimeoutIterator:
    _DONE = object()

    def __init__(self, iterator, timeout=0.0, sentinel=object(), reset_on_next=False):
        self._iterator = iterator
        self._timeout = timeout
        self._sentinel = sentinel
        self._reset_on_next = reset_on_next
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self):
        try:
            for item in self._iterator:
                self._queue.put(item)
        except Exception as exc:  # surfaced on next()
            self._queue.put(exc)
            return
        self._queue.put(self._DONE)

    def get_sentinel(self):
        return self._sentinel

    def set_timeout(self, timeout):
        self._timeout = timeout

    def __iter__(self):
        return self

    def __next__(self):
        try:
            item = self._queue.get(timeout=self._timeout if self._timeout else None)
        except queue.Empty:
            return self._sentinel
        if self._reset_on_next:
            self._timeout = 0.0
        if item is self._DONE:
            raise StopIteration
        if isinstance(item, Exception):
            raise item
        return item
