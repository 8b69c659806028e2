"""The order in which a drain applies its claimed messages (runs, batches, waves of ordering
keys); plain Python, no ORM, tested without a database (tests/test_pipeline_drain.py)."""

RUN_MAX = 32  # inbound messages applied in one savepoint (see RunSchedule)
BATCH_MAX = 100  # messages given to one batch handler call (a drain claims 100)


class GiveBack(Exception):
    """Raised by a step (``process_one``, ``apply_run``, ``apply_batch``) to stop the schedule:
    the messages it holds and all that come after are given back (``skipped``), untouched."""


class RunSchedule:
    """The order in which a drain applies its claimed messages; plain Python.

    Messages come in arrival (id) order; each has ``id``, ``ordering_key`` and ``direction``.
    Inbound messages are grouped in runs given to ``apply_run(run) -> bool`` (one savepoint,
    True when every message is done). A run that fails is given again one message at a time to
    ``process_one(msg) -> bool`` (True when done), and the run size halves; after a run that
    succeeds it doubles again, up to ``run_max``. A single message and every outbound message
    (a send cannot be rolled back) go to ``process_one``. A message whose ordering key is held
    (``held_back`` ids: an earlier message of its key is open outside this claim) or blocked (an
    earlier message of its key in this batch did not end done) is skipped: ``skipped`` lists
    them, to be given back.

    Batches: ``batch_key(msg)`` is not None for an inbound message whose exchange type has a
    batch handler (messages of one batch key may be applied by one handler call). When the claim
    holds such messages, they are first put in *waves* (``waves``): the n-th message of each
    ordering key goes to wave n, and inside a wave the messages of one batch key come together;
    so a batch gathers one message of each of many keys. The order per key is kept (the only
    order promised); the order between keys is not. Consecutive messages of one batch key with
    distinct ordering keys are given to ``apply_batch(msgs) -> bool`` (one savepoint, one
    handler call, True when all are done); a batch that fails is given again one message at a
    time to ``process_one``, and the batch size halves (doubling again after good batches, up to
    ``batch_max``). Claims without batchable messages keep their arrival order.

    A step that raises ``GiveBack`` stops the schedule: every message not applied yet (the
    step's own included) is added to ``skipped``, to be given back.
    """

    def __init__(
        self,
        held_back,
        process_one,
        apply_run,
        run_max=RUN_MAX,
        batch_key=None,
        apply_batch=None,
        batch_max=BATCH_MAX,
    ):
        self.held_back = held_back
        self.process_one = process_one
        self.apply_run = apply_run
        self.run_max = run_max
        self.run_size = run_max
        self.batch_key = batch_key
        self.apply_batch = apply_batch
        self.batch_max = batch_max
        self.batch_size = batch_max
        self.blocked_keys = set()
        self.skipped = []
        self.done = 0
        self._handled = set()  # ids done, failed or skipped
        self._run = []
        self._batch = []
        self._batch_group = None
        self._batch_keys = set()

    def feed(self, messages):
        """Apply ``messages``, in order; then ``done`` and ``skipped`` tell the outcome."""
        messages = list(messages)
        try:
            self._feed(messages)
        except GiveBack:
            self.skipped.extend(msg.id for msg in messages if msg.id not in self._handled)
            self._run, self._batch, self._batch_group, self._batch_keys = [], [], None, set()

    def _feed(self, messages):
        groups = {}
        if self.batch_key and self.apply_batch:
            groups = {msg.id: self.batch_key(msg) for msg in messages}
            if any(group is not None for group in groups.values()):
                messages = waves(messages, groups)
        for msg in messages:
            key = msg.ordering_key
            group = groups.get(msg.id)
            if msg.direction != "inbound":
                self._flush()
                self._one_by_one([msg])
                continue
            # Flush what cannot take this message first: its outcome may block the message's key.
            if group is None:
                if self._batch:
                    self._flush_batch()
            elif (
                self._run
                or group != self._batch_group
                or (key and key in self._batch_keys)
                or len(self._batch) >= self.batch_size
            ):
                self._flush()
            if key and (msg.id in self.held_back or key in self.blocked_keys):
                self.blocked_keys.add(key)
                self._skip(msg)
                continue
            if group is None:
                self._run.append(msg)
                if len(self._run) >= self.run_size:
                    self._flush_run()
            else:
                self._batch.append(msg)
                self._batch_group = group
                if key:
                    self._batch_keys.add(key)
        self._flush()

    def _skip(self, msg):
        self.skipped.append(msg.id)
        self._handled.add(msg.id)

    def _one_by_one(self, msgs):
        for msg in msgs:
            key = msg.ordering_key
            if key and key in self.blocked_keys:
                self._skip(msg)
                continue
            if self.process_one(msg):
                self.done += 1
            elif key:
                self.blocked_keys.add(key)  # failed or retrying: the rest of its key waits
            self._handled.add(msg.id)

    def _flush(self):
        self._flush_run()
        self._flush_batch()

    def _flush_run(self):
        run = self._run
        self._run = []
        if not run:
            return
        if len(run) > 1 and self.apply_run(run):
            self.done += len(run)
            self._handled.update(msg.id for msg in run)
            self.run_size = min(self.run_max, self.run_size * 2)
        else:
            if len(run) > 1:
                self.run_size = max(1, self.run_size // 2)
            self._one_by_one(run)

    def _flush_batch(self):
        batch = self._batch
        self._batch, self._batch_group, self._batch_keys = [], None, set()
        if not batch:
            return
        if len(batch) > 1 and self.apply_batch(batch):
            self.done += len(batch)
            self._handled.update(msg.id for msg in batch)
            self.batch_size = min(self.batch_max, self.batch_size * 2)
        else:
            if len(batch) > 1:
                self.batch_size = max(1, self.batch_size // 2)
            self._one_by_one(batch)


def waves(messages, groups):
    """``messages`` (arrival order) in waves: wave n holds the n-th message of each ordering
    key (keyless messages: wave 0); inside a wave, the messages of one group (``groups``: id ->
    batch key or None) together, groups in the order they first appear, arrival order inside."""
    depth, rank, ordered = {}, {}, []
    for pos, msg in enumerate(messages):
        key = msg.ordering_key
        wave = depth.get(key, 0) if key else 0
        if key:
            depth[key] = wave + 1
        group_rank = rank.setdefault(groups.get(msg.id), len(rank))
        ordered.append((wave, group_rank, pos, msg))
    ordered.sort(key=lambda row: row[:3])
    return [row[3] for row in ordered]
