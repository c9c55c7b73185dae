"""Bedrock Runtime: model routing, Converse, ConverseStream and ApplyGuardrail.

Handlers take the parsed request and the shared State and either return a
result or raise ApiError with the status, type and message the real service
uses for that failure.
"""
import base64
import binascii
import json
import math
import re

from . import eventstream, png, textgen
from .errors import ApiError, validation

GEO_PREFIXES = ("us.", "eu.", "apac.", "global.", "jp.", "au.", "us-gov.", "ca.")

_TEXT_MODEL_RE = re.compile(
    r"^(amazon\.nova-(micro|lite|pro|premier|2-lite|2-pro|2-sonic)-v\d+(:\d+)?"
    r"|anthropic\.claude-[a-z0-9.\-]+(:\d+)?"
    r"|meta\.llama[a-z0-9.\-]+(:\d+)?"
    r"|mistral\.[a-z0-9.\-]+(:\d+)?"
    r"|cohere\.command-[a-z0-9.\-]+(:\d+)?"
    r"|ai21\.jamba-[a-z0-9.\-]+(:\d+)?"
    r"|deepseek\.[a-z0-9.\-]+(:\d+)?"
    r"|openai\.gpt-oss-[a-z0-9.\-]+(:\d+)?"
    r"|qwen\.[a-z0-9.\-]+(:\d+)?"
    r"|amazon\.titan-text-[a-z0-9.\-]+(:\d+)?)$")

IMAGE_MODELS = {
    "amazon.titan-image-generator-v1": "titan",
    "amazon.titan-image-generator-v1:0": "titan",
    "amazon.titan-image-generator-v2:0": "titan",
    "amazon.nova-canvas-v1:0": "nova-canvas",
    "stability.stable-diffusion-xl-v1": "sdxl",
    "stability.stable-diffusion-xl-v1:0": "sdxl",
    "stability.stable-image-core-v1:0": "stable-image",
    "stability.stable-image-core-v1:1": "stable-image",
    "stability.stable-image-ultra-v1:0": "stable-image",
    "stability.stable-image-ultra-v1:1": "stable-image",
    "stability.sd3-large-v1:0": "stable-image",
    "stability.sd3-5-large-v1:0": "stable-image",
}

EOL_MESSAGE = ("This model version has reached the end of its life. Please refer to the AWS "
               "documentation for more details.")
LEGACY_MESSAGE = ("Access denied. This Model is marked by provider as Legacy and you have not "
                  "been actively using the model in the last 30 days. Please upgrade to an "
                  "active model on Amazon Bedrock")
NOT_FOUND_MESSAGE = "Could not resolve the foundation model from the provided model identifier."
GUARDRAIL_BLOCKED = "Sorry, the model cannot answer this question."

IMAGE_FORMATS = ["png", "jpeg", "gif", "webp"]
MAX_IMAGE_BYTES = 3750000


def base_model(model_id):
    """Strip an ARN and a geography prefix: 'us.amazon.nova-lite-v1:0' -> 'amazon.nova-lite-v1:0'."""
    m = model_id
    if m.startswith("arn:"):
        m = m.rsplit("/", 1)[-1]
    for p in GEO_PREFIXES:
        if m.startswith(p):
            return m[len(p):]
    return m


def classify(model_id):
    """'text', an image family name, or None for an unknown model."""
    b = base_model(model_id)
    if b in IMAGE_MODELS:
        return IMAGE_MODELS[b]
    if _TEXT_MODEL_RE.match(b):
        return "text"
    return None


def check_model(model_id, cfg, want):
    """Raise the error Bedrock gives for this model id; return its family."""
    if not model_id or len(model_id) > 2048:
        raise validation("1 validation error detected: Value '%s' at 'modelId' failed to "
                         "satisfy constraint: Member must have length between 1 and 2048"
                         % model_id)
    b = base_model(model_id)
    if model_id in cfg["eol_models"] or b in cfg["eol_models"]:
        raise ApiError(404, "ResourceNotFoundException", EOL_MESSAGE)
    if model_id in cfg["legacy_models"] or b in cfg["legacy_models"]:
        raise ApiError(404, "ResourceNotFoundException", LEGACY_MESSAGE)
    family = classify(model_id)
    if family is None:
        raise ApiError(404, "ResourceNotFoundException", NOT_FOUND_MESSAGE)
    if model_id in cfg["profile_only_models"]:
        raise validation("Invocation of model ID %s with on-demand throughput isn't supported. "
                         "Retry your request with the ID or ARN of an inference profile that "
                         "contains this model." % model_id)
    if want == "text" and family != "text":
        raise validation("This action doesn't support the model that you provided. Try again "
                         "with a supported text or chat model.")
    if want == "image" and family == "text":
        raise validation("fake-aws implements InvokeModel only for image generation models; "
                         "use Converse for %s" % model_id)
    return family


def parse_json(body):
    try:
        doc = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "SerializationException", "Unexpected character in request body")
    if not isinstance(doc, dict):
        raise ApiError(400, "SerializationException", "Request body must be a JSON object")
    return doc


# ---------------------------------------------------------------- Converse

def _union_key(block, where):
    if not isinstance(block, dict) or len(block) != 1:
        raise validation("The %s must contain exactly one member." % where)
    return next(iter(block))


def _check_range(value, where, lo=None, hi=None, integer=False):
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise ApiError(400, "SerializationException", "Invalid type for %s" % where)
    if lo is not None and value < lo:
        raise validation("1 validation error detected: Value '%s' at '%s' failed to satisfy "
                         "constraint: Member must have value greater than or equal to %s"
                         % (value, where, lo))
    if hi is not None and value > hi:
        raise validation("1 validation error detected: Value '%s' at '%s' failed to satisfy "
                         "constraint: Member must have value less than or equal to %s"
                         % (value, where, hi))


def validate_converse(doc):
    """Validate like Bedrock; return (system_text, transcript, last_user_text, images, cfg)."""
    messages = doc.get("messages")
    if not isinstance(messages, list) or not messages:
        raise validation("A conversation must start with a user message. Try again with a "
                         "conversation that starts with a user message.")
    system_text = []
    system = doc.get("system", [])
    if not isinstance(system, list):
        raise ApiError(400, "SerializationException", "system must be a list")
    for i, blk in enumerate(system):
        key = _union_key(blk, "SystemContentBlock at system.%d" % i)
        if key == "text":
            if not isinstance(blk["text"], str) or not blk["text"].strip():
                raise validation("The text field in the SystemContentBlock object at "
                                 "system.%d is blank. Add text to the text field, and try "
                                 "again." % i)
            system_text.append(blk["text"])
    transcript, images, last_images = [], [], []
    last_user_text = ""
    prev_role = None
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ApiError(400, "SerializationException", "messages.%d must be an object" % i)
        role = msg.get("role")
        if role not in ("user", "assistant"):
            raise validation("1 validation error detected: Value '%s' at 'messages.%d.member."
                             "role' failed to satisfy constraint: Member must satisfy enum "
                             "value set: [user, assistant]" % (role, i + 1))
        if i == 0 and role != "user":
            raise validation("A conversation must start with a user message. Try again with a "
                             "conversation that starts with a user message.")
        if role == prev_role:
            raise validation("A conversation must alternate between user and assistant roles. "
                             "Make sure the conversation alternates between user and assistant "
                             "roles and try again.")
        prev_role = role
        content = msg.get("content")
        if not isinstance(content, list) or not content:
            raise validation("The content field in the Message object at messages.%d is empty. "
                             "Add a ContentBlock object to the content field and try again." % i)
        texts = []
        msg_images = []
        for j, blk in enumerate(content):
            key = _union_key(blk, "ContentBlock at messages.%d.content.%d" % (i, j))
            if key == "text":
                if not isinstance(blk["text"], str) or not blk["text"].strip():
                    raise validation("The text field in the ContentBlock object at messages.%d."
                                     "content.%d is blank. Add text to the text field, and try "
                                     "again." % (i, j))
                texts.append(blk["text"])
            elif key == "image":
                if role != "user":
                    raise validation("Images are only supported in user messages "
                                     "(messages.%d.content.%d)." % (i, j))
                msg_images.append(_validate_image(blk["image"], i, j))
            elif key in ("document", "video", "toolUse", "toolResult", "guardContent",
                         "reasoningContent", "cachePoint", "citationsContent", "searchResult"):
                pass  # accepted and ignored by the fake
            else:
                raise ApiError(400, "SerializationException",
                               "Unknown member %s in ContentBlock" % key)
        transcript.append("%s: %s" % (role, " ".join(texts)))
        if role == "user":
            last_user_text = " ".join(texts)
            images.extend(msg_images)
            last_images = msg_images
    if messages[-1].get("role") != "user":
        last_images = []
    if len(images) > 20:
        raise validation("Too many images: a request may contain at most 20 images.")
    inf = doc.get("inferenceConfig") or {}
    if not isinstance(inf, dict):
        raise ApiError(400, "SerializationException", "inferenceConfig must be an object")
    if "maxTokens" in inf:
        _check_range(inf["maxTokens"], "inferenceConfig.maxTokens", lo=1, integer=True)
    if "temperature" in inf:
        _check_range(inf["temperature"], "inferenceConfig.temperature", 0, 1)
    if "topP" in inf:
        _check_range(inf["topP"], "inferenceConfig.topP", 0, 1)
    stops = inf.get("stopSequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise validation("inferenceConfig.stopSequences must be a list of non-empty strings")
    return ("\n".join(system_text), "\n".join(transcript), last_user_text, images,
            last_images, inf)


def _validate_image(img, i, j):
    where = "messages.%d.content.%d.image" % (i, j)
    if not isinstance(img, dict):
        raise ApiError(400, "SerializationException", "%s must be an object" % where)
    fmt = img.get("format")
    if fmt not in IMAGE_FORMATS:
        raise validation("1 validation error detected: Value '%s' at '%s.format' failed to "
                         "satisfy constraint: Member must satisfy enum value set: "
                         "[png, jpeg, gif, webp]" % (fmt, where))
    src = img.get("source")
    if not isinstance(src, dict) or len(src) != 1:
        raise validation("The ImageSource at %s.source must contain exactly one member." % where)
    if "s3Location" in src:
        return {"format": fmt, "bytes": 0, "size": None, "s3": src["s3Location"].get("uri")}
    raw = src.get("bytes")
    if not isinstance(raw, str):
        raise ApiError(400, "SerializationException", "%s.source.bytes must be base64" % where)
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "SerializationException",
                       "Invalid base64 in %s.source.bytes" % where)
    if not data:
        raise validation("The image at %s is empty." % where)
    if len(data) > MAX_IMAGE_BYTES:
        raise validation("The image at %s is %d bytes; the maximum is 3.75 MB."
                         % (where, len(data)))
    return {"format": fmt, "bytes": len(data), "size": png.png_size(data)}


def _describe_images(images):
    out = []
    for k, im in enumerate(images):
        what = "The %s image you sent" % ("first" if k == 0 else "next")
        if im.get("s3"):
            out.append("%s is a %s image stored at %s." % (what, im["format"].upper(), im["s3"]))
            continue
        dims = (" of %dx%d pixels" % im["size"]) if im["size"] else ""
        out.append("%s is a %s image%s (%d bytes)." % (what, im["format"].upper(), dims,
                                                       im["bytes"]))
    return " ".join(out)


def converse_result(doc, cfg):
    """Return dict(text, stop_reason, input_tokens, output_tokens) for a Converse body."""
    system_text, transcript, last_user, images, last_images, inf = validate_converse(doc)
    text = textgen.story(transcript, system_text)
    if textgen.wants_json(system_text):
        # A request for a JSON-shaped answer (the storyteller's character sheet and
        # questions): answer with a well-formed object derived from the story text.
        text = textgen.sheet_json(transcript, system_text)
    if last_images:
        # A vision request: lead with a description that proves the bytes arrived;
        # keep the full story only when the prompt asked for a multi-part one.
        desc = _describe_images(last_images)
        if textgen.requested_parts(system_text + " " + last_user):
            text = desc + "\n\n" + text
        else:
            text = desc + " " + text.split(". ")[0].rstrip(".") + "."
    stop = "end_turn"
    words = cfg["guardrail_words"]
    if doc.get("guardrailConfig") and textgen.find_words(system_text + " " + transcript, words):
        text, stop = GUARDRAIL_BLOCKED, "guardrail_intervened"
    for s in inf.get("stopSequences") or []:
        k = text.find(s)
        if k >= 0:
            text, stop = text[:k], "stop_sequence"
    max_tokens = inf.get("maxTokens")
    if max_tokens is not None and _tokens(text) > max_tokens:
        cut = text[:max_tokens * 4]
        sp = cut.rfind(" ")
        text = cut[:sp] if sp > 0 else cut
        stop = "max_tokens"
    in_tokens = _tokens(system_text + transcript) + sum(
        (im["size"][0] * im["size"][1] // 750 if im.get("size") else 1000) for im in images)
    return {"text": text, "stop_reason": stop, "input_tokens": max(1, in_tokens),
            "output_tokens": max(1, _tokens(text)), "input_chars": len(system_text + transcript)}


def _tokens(text):
    return math.ceil(len(text) / 4)


def _usage(r):
    return {"inputTokens": r["input_tokens"], "outputTokens": r["output_tokens"],
            "totalTokens": r["input_tokens"] + r["output_tokens"]}


def converse_response(r, latency_ms):
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": r["text"]}]}},
        "stopReason": r["stop_reason"],
        "usage": _usage(r),
        "metrics": {"latencyMs": latency_ms},
    }


def _pad(n):
    return "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"[:n]


def stream_frames(r, seed, latency_fn, fault=None):
    """Yield event-stream frames for a ConverseStream result.

    fault may be a midstream rule: after `after` deltas an exception frame is
    sent (or, for midstream_drop, None is yielded to ask for a connection drop).
    """
    yield eventstream.event("messageStart", {"p": _pad(4), "role": "assistant"})
    deltas = textgen.split_deltas(r["text"], seed)
    for k, d in enumerate(deltas):
        if fault is not None and k == int(fault.get("after", 3)):
            if fault["action"] == "midstream_drop":
                yield None
                return
            yield _stream_exception(fault)
            return
        yield eventstream.event("contentBlockDelta", {"contentBlockIndex": 0,
                                                      "delta": {"text": d},
                                                      "p": _pad(1 + (k * 7) % 30)})
    if fault is not None:
        if fault["action"] == "midstream_drop":
            yield None
            return
        yield _stream_exception(fault)
        return
    yield eventstream.event("contentBlockStop", {"contentBlockIndex": 0, "p": _pad(2)})
    yield eventstream.event("messageStop", {"p": _pad(3), "stopReason": r["stop_reason"]})
    yield eventstream.event("metadata", {"metrics": {"latencyMs": latency_fn()}, "p": _pad(1),
                                         "usage": _usage(r)})


_STREAM_EXC_MESSAGES = {
    "internalServerException": "The server encountered an internal error while processing the request.",
    "modelStreamErrorException": "The model stream encountered an error.",
    "validationException": "The request is invalid.",
    "throttlingException": "Too many requests, please wait before trying again.",
    "serviceUnavailableException": "The service is temporarily unavailable. Try again later.",
}


def _stream_exception(fault):
    etype = fault.get("exception", "modelStreamErrorException")
    message = fault.get("message") or _STREAM_EXC_MESSAGES.get(etype, "Stream error")
    if etype == "error":
        return eventstream.error(fault.get("code", "InternalFailure"), message)
    payload = {"message": message}
    if etype == "modelStreamErrorException":
        payload["originalStatusCode"] = fault.get("original_status", 500)
        payload["originalMessage"] = fault.get("original_message", "Model stream failed")
    return eventstream.exception(etype, payload)


# ---------------------------------------------------------------- ApplyGuardrail

def apply_guardrail(doc, cfg, version):
    if not (version == "DRAFT" or version.isdigit()):
        raise validation("1 validation error detected: Value '%s' at 'guardrailVersion' failed "
                         "to satisfy constraint: Member must satisfy regular expression "
                         "pattern: (([1-9][0-9]{0,7})|(DRAFT))" % version)
    source = doc.get("source")
    if source not in ("INPUT", "OUTPUT"):
        raise validation("1 validation error detected: Value '%s' at 'source' failed to satisfy "
                         "constraint: Member must satisfy enum value set: [INPUT, OUTPUT]"
                         % source)
    content = doc.get("content")
    if not isinstance(content, list) or not content:
        raise validation("content must contain at least one GuardrailContentBlock")
    texts = []
    for k, blk in enumerate(content):
        t = blk.get("text") if isinstance(blk, dict) else None
        if not isinstance(t, dict) or not isinstance(t.get("text"), str):
            raise validation("content.%d must be a text block" % k)
        texts.append(t["text"])
    joined = "\n".join(texts)
    hits = textgen.find_words(joined, cfg["guardrail_words"])
    units = max(1, math.ceil(len(joined) / 1000))
    out = {
        "usage": {"topicPolicyUnits": 0, "contentPolicyUnits": 0, "wordPolicyUnits": units,
                  "sensitiveInformationPolicyUnits": 0,
                  "sensitiveInformationPolicyFreeUnits": 0, "contextualGroundingPolicyUnits": 0},
        "action": "GUARDRAIL_INTERVENED" if hits else "NONE",
        "outputs": [{"text": GUARDRAIL_BLOCKED}] if hits else [],
        "assessments": [{"wordPolicy": {"customWords": [
            {"match": w, "action": "BLOCKED", "detected": True} for w in hits],
            "managedWordLists": []}}] if hits else [{}],
        "guardrailCoverage": {"textCharacters": {"guarded": len(joined), "total": len(joined)}},
    }
    if hits:
        out["actionReason"] = "Guardrail blocked."
    return out, len(joined)
