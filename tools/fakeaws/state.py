"""Shared mutable state: runtime config, fault rules and the request log.

Every access goes through one lock because handler threads run concurrently.
The lock is held only for a few dictionary or list operations per request: the
config is replaced as a whole on every change (never edited in place), so a
request can keep the snapshot it got without copying it.
"""
import copy
import threading
import time

OPS = ("converse", "converse-stream", "invoke", "speech", "voices", "guardrail")
ACTIONS = ("latency", "throttle", "status", "midstream_exception", "midstream_drop", "drop",
           "eol", "legacy", "moderate", "slow_stream", "inference_error")

DEFAULT_CONFIG = {
    "latency_ms": 0,
    "stream_delay_ms": 0,
    "eol_models": [],
    "legacy_models": [],
    "profile_only_models": ["amazon.nova-2-lite-v1:0"],
    "guardrail_words": ["kill", "gore", "blood", "weapon", "drugs"],
    "image_blocked_words": [],
    "verify_auth": True,
    # DescribeVoices answers at most this many voices per page (with a NextToken); 0 = one page.
    "voices_page_size": 0,
}

# The lifecycle as of the notes' date (late 2026), opt-in with --realistic-lifecycle.
REALISTIC_EOL = ["amazon.titan-image-generator-v1", "amazon.titan-image-generator-v1:0",
                 "amazon.titan-image-generator-v2:0", "amazon.nova-canvas-v1:0",
                 "stability.stable-diffusion-xl-v1", "stability.stable-diffusion-xl-v1:0"]


class FaultError(ValueError):
    pass


def _check_rule(rule):
    if not isinstance(rule, dict):
        raise FaultError("each rule must be an object")
    match = rule.get("match", {})
    if not isinstance(match, dict):
        raise FaultError("match must be an object")
    op = match.get("op")
    if op is not None and op != "*" and op not in OPS:
        raise FaultError("unknown op %r (one of %s)" % (op, ", ".join(OPS)))
    if rule.get("action") not in ACTIONS:
        raise FaultError("unknown action %r (one of %s)" % (rule.get("action"), ", ".join(ACTIONS)))
    times = rule.get("times")
    if times is not None and (not isinstance(times, int) or times < 1):
        raise FaultError("times must be a positive integer")
    if rule["action"] == "status" and not isinstance(rule.get("status", 500), int):
        raise FaultError("status must be an integer HTTP status")


class State:
    def __init__(self, config):
        self.lock = threading.Lock()
        self.config = copy.deepcopy(DEFAULT_CONFIG)
        self.config.update(config)
        self.initial = copy.deepcopy(self.config)
        self.rules = []
        self.log = []
        self.seq = 0

    # ---- config
    def get_config(self):
        """A deep copy of the config, safe to hand out (the control API)."""
        with self.lock:
            return copy.deepcopy(self.config)

    def config_snapshot(self):
        """The current config for one request: shared and read-only, never mutated.

        update_config and reset_config swap in a new dict, so a snapshot stays
        consistent for the whole request without the cost of a deep copy."""
        return self.config

    def update_config(self, changes):
        if not isinstance(changes, dict):
            raise FaultError("config must be an object")
        for k, v in changes.items():
            if k not in DEFAULT_CONFIG:
                raise FaultError("unknown config key %r" % k)
            if type(v) is not type(DEFAULT_CONFIG[k]):
                raise FaultError("config key %r has the wrong type" % k)
        with self.lock:
            new = copy.deepcopy(self.config)
            new.update(copy.deepcopy(changes))
            self.config = new
            return copy.deepcopy(new)

    def reset_config(self):
        with self.lock:
            self.config = copy.deepcopy(self.initial)

    # ---- faults
    def add_rules(self, rules):
        if isinstance(rules, dict):
            rules = [rules]
        if not isinstance(rules, list):
            raise FaultError("expected a JSON list of rules")
        for r in rules:
            _check_rule(r)
        with self.lock:
            for r in rules:
                r = copy.deepcopy(r)
                r.setdefault("match", {})
                r["hits"] = 0
                self.rules.append(r)
            return len(self.rules)

    def clear_rules(self):
        with self.lock:
            self.rules = []

    def list_rules(self):
        with self.lock:
            return copy.deepcopy(self.rules)

    def take_faults(self, op, model):
        """Consume the rules matching this request.

        Latency-type rules all apply (their delays add up); the first
        terminal rule stops the scan. Returns (latency_ms, terminal rule or None,
        slow_stream_ms).
        """
        delay, slow, terminal = 0, 0, None
        if not self.rules:
            # Benchmarks and most tests have no rules: skip the lock and the list rebuild.
            return delay, terminal, slow
        with self.lock:
            for r in self.rules:
                m = r["match"]
                if m.get("op") not in (None, "*", op):
                    continue
                if m.get("model") is not None and m["model"] != model:
                    continue
                if r.get("times") is not None and r["hits"] >= r["times"]:
                    continue
                if r["action"] in ("midstream_exception", "midstream_drop", "slow_stream") \
                        and op != "converse-stream":
                    continue
                r["hits"] += 1
                if r["action"] == "latency":
                    delay += int(r.get("ms", 0))
                elif r["action"] == "slow_stream":
                    slow += int(r.get("ms", 50))
                else:
                    terminal = copy.deepcopy(r)
                    break
            self.rules = [r for r in self.rules
                          if r.get("times") is None or r["hits"] < r["times"]]
        return delay, terminal, slow

    # ---- request log
    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.log.append(entry)
            if len(self.log) > 10000:
                del self.log[:1000]

    def requests(self, op=None):
        with self.lock:
            return [copy.deepcopy(e) for e in self.log if op is None or e["op"] == op]

    def clear_requests(self):
        with self.lock:
            self.log = []


def now():
    return time.time()
