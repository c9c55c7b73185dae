"""InvokeModel request validation and responses for the image model families.

Three body shapes exist: Titan Image / Nova Canvas (taskType + textToImageParams),
Stability SDXL v1 (text_prompts -> artifacts) and Stability Stable Image / SD3.5
(prompt -> images + finish_reasons). Validation failures use the real service's
"Malformed input request: #/path: ..." wording where it has one.
"""
import base64

from . import png, textgen
from .errors import ApiError, malformed, validation

FILTER_MESSAGE = ("This request has been blocked by our content filters. Our filters "
                  "automatically flagged this prompt because it may conflict our AUP or AWS "
                  "Responsible AI Policy. Please adjust your text prompt to submit a new request.")

TITAN_SIZES = {(1024, 1024), (768, 768), (512, 512), (768, 1152), (384, 576), (1152, 768),
               (576, 384), (768, 1280), (384, 640), (1280, 768), (640, 384), (896, 1152),
               (448, 576), (1152, 896), (576, 448), (768, 1408), (384, 704), (1408, 768),
               (704, 384), (640, 1408), (320, 704), (1408, 640), (704, 320), (1152, 640),
               (1173, 640)}
SDXL_SIZES = {(1024, 1024), (1152, 896), (1216, 832), (1344, 768), (1536, 640), (640, 1536),
              (768, 1344), (832, 1216), (896, 1152)}
ASPECT_SIZES = {"1:1": (1024, 1024), "16:9": (1344, 768), "21:9": (1536, 640),
                "2:3": (832, 1216), "3:2": (1216, 832), "4:5": (896, 1088),
                "5:4": (1088, 896), "9:16": (768, 1344), "9:21": (640, 1536)}
SDXL_STYLES = ["3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art",
               "enhance", "fantasy-art", "isometric", "line-art", "low-poly",
               "modeling-compound", "neon-punk", "origami", "photographic", "pixel-art",
               "tile-texture"]
SDXL_SAMPLERS = ["DDIM", "DDPM", "K_DPMPP_2M", "K_DPMPP_2S_ANCESTRAL", "K_DPM_2",
                 "K_DPM_2_ANCESTRAL", "K_EULER", "K_EULER_ANCESTRAL", "K_HEUN", "K_LMS"]
SDXL_CLIP = ["FAST_BLUE", "FAST_GREEN", "NONE", "SIMPLE", "SLOW", "SLOWER", "SLOWEST"]


def _img_seed(prompt, seed, k):
    return textgen.seed_for("%s|%s|%d" % (prompt, seed, k))


def _int_field(obj, name, path, lo, hi, default):
    v = obj.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise malformed("#/%s: expected type: Integer, found: %s" % (path, type(v).__name__))
    if v < lo:
        raise malformed("#/%s: %d is not greater or equal to %d" % (path, v, lo))
    if v > hi:
        raise malformed("#/%s: %d is not less or equal to %d" % (path, v, hi))
    return v


def _num_field(obj, name, path, lo, hi, default):
    v = obj.get(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise malformed("#/%s: expected type: Number, found: %s" % (path, type(v).__name__))
    if v < lo or v > hi:
        raise malformed("#/%s: %s is not in the range %s..%s" % (path, v, lo, hi))
    return v


def invoke_image(family, doc, cfg, moderate=False):
    """Return the model-native response dict for an image request."""
    if family in ("titan", "nova-canvas"):
        return _titan(family, doc, cfg, moderate)
    if family == "sdxl":
        return _sdxl(doc, cfg, moderate)
    return _stable_image(doc, cfg, moderate)


def inference_error(family, out, model):
    """Turn a finished answer into the model failing (the inference_error fault).

    Stability models report it inside a 200 answer (Stable Image: finish_reasons
    "Inference error"; SDXL: finishReason ERROR); Titan and Nova Canvas have no
    such field, so they answer 424 ModelErrorException as InvokeModel does."""
    if family in ("titan", "nova-canvas"):
        raise ApiError(424, "ModelErrorException", "The model returned an error.",
                       originalStatusCode=500, resourceName=model)
    if family == "sdxl":
        for a in out.get("artifacts", []):
            a["finishReason"] = "ERROR"
            a["base64"] = ""
        return out
    return {"seeds": out.get("seeds", [0]), "finish_reasons": ["Inference error"], "images": []}


def _titan(family, doc, cfg, moderate):
    task = doc.get("taskType")
    if task is None:
        raise malformed("#: required key [taskType] not found")
    if task != "TEXT_IMAGE":
        raise malformed("#/taskType: %s is not a valid enum value (fake-aws implements "
                        "TEXT_IMAGE only)" % task)
    params = doc.get("textToImageParams")
    if not isinstance(params, dict):
        raise malformed("#: required key [textToImageParams] not found")
    text = params.get("text")
    if not isinstance(text, str):
        raise malformed("#/textToImageParams: required key [text] not found")
    limit = 512 if family == "titan" else 1024
    if len(text) < 1:
        raise malformed("#/textToImageParams/text: expected minLength: 1, actual: 0")
    if len(text) > limit:
        raise malformed("#/textToImageParams/text: expected maxLength: %d, actual: %d"
                        % (limit, len(text)))
    neg = params.get("negativeText")
    if neg is not None and (not isinstance(neg, str) or not 1 <= len(neg) <= limit):
        raise malformed("#/textToImageParams/negativeText: expected length 1..%d" % limit)
    gen = doc.get("imageGenerationConfig") or {}
    if not isinstance(gen, dict):
        raise malformed("#/imageGenerationConfig: expected type: JSONObject")
    n = _int_field(gen, "numberOfImages", "imageGenerationConfig/numberOfImages", 1, 5, 1)
    w = _int_field(gen, "width", "imageGenerationConfig/width", 1, 4096, 1024)
    h = _int_field(gen, "height", "imageGenerationConfig/height", 1, 4096, 1024)
    seed_max = 2147483646 if family == "titan" else 858993459
    seed = _int_field(gen, "seed", "imageGenerationConfig/seed", 0, seed_max, 0)
    _num_field(gen, "cfgScale", "imageGenerationConfig/cfgScale", 1.1, 10, 8)
    q = gen.get("quality", "standard")
    if q not in ("standard", "premium"):
        raise malformed("#/imageGenerationConfig/quality: %s is not a valid enum value" % q)
    if family == "titan":
        if (w, h) not in TITAN_SIZES:
            raise validation("The combination of width %d and height %d is not supported. Use "
                             "one of the supported image sizes." % (w, h))
    else:
        if not (320 <= w <= 4096 and 320 <= h <= 4096) or w % 16 or h % 16:
            raise validation("Image width and height must each be between 320 and 4096 pixels "
                             "and divisible by 16 (got %dx%d)." % (w, h))
        if max(w, h) > 4 * min(w, h):
            raise validation("The aspect ratio must be between 1:4 and 4:1 (got %dx%d)." % (w, h))
        if w * h > 4194304:
            raise validation("The image must have at most 4,194,304 pixels (got %d)." % (w * h))
    if moderate or textgen.find_words(text, cfg["image_blocked_words"]):
        raise validation(FILTER_MESSAGE)
    images = [base64.b64encode(png.make_png(w, h, _img_seed(text, seed, k))).decode()
              for k in range(n)]
    return {"images": images, "error": None}


def _sdxl(doc, cfg, moderate):
    prompts = doc.get("text_prompts")
    if not isinstance(prompts, list) or not prompts:
        raise malformed("#: required key [text_prompts] not found")
    positive = []
    for k, p in enumerate(prompts):
        if not isinstance(p, dict) or not isinstance(p.get("text"), str):
            raise malformed("#/text_prompts/%d: required key [text] not found" % k)
        if len(p["text"]) > 2000:
            raise malformed("#/text_prompts/%d/text: expected maxLength: 2000, actual: %d"
                            % (k, len(p["text"])))
        weight = p.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise malformed("#/text_prompts/%d/weight: expected type: Number" % k)
        if weight >= 0:
            positive.append(p["text"])
    if not positive or not "".join(positive).strip():
        raise validation("text_prompts must contain at least one non-empty prompt with a "
                         "positive weight")
    w = _int_field(doc, "width", "width", 1, 4096, 1024)
    h = _int_field(doc, "height", "height", 1, 4096, 1024)
    if (w, h) not in SDXL_SIZES:
        raise validation("Invalid dimensions %dx%d: SDXL v1.0 supports 1024x1024, 1152x896, "
                         "1216x832, 1344x768, 1536x640, 640x1536, 768x1344, 832x1216 and "
                         "896x1152." % (w, h))
    _num_field(doc, "cfg_scale", "cfg_scale", 0, 35, 7)
    _int_field(doc, "samples", "samples", 1, 1, 1)
    seed = _int_field(doc, "seed", "seed", 0, 4294967295, 0)
    _int_field(doc, "steps", "steps", 10, 150, 30)
    for key, allowed in (("style_preset", SDXL_STYLES), ("sampler", SDXL_SAMPLERS),
                         ("clip_guidance_preset", SDXL_CLIP)):
        if key in doc and doc[key] not in allowed:
            raise malformed("#/%s: %s is not a valid enum value" % (key, doc[key]))
    prompt = " ".join(positive)
    filtered = moderate or bool(textgen.find_words(prompt, cfg["image_blocked_words"]))
    data = png.make_png(w, h, _img_seed(prompt, seed, 0), grey=filtered)
    return {"result": "success",
            "artifacts": [{"seed": seed, "base64": base64.b64encode(data).decode(),
                           "finishReason": "CONTENT_FILTERED" if filtered else "SUCCESS"}]}


def _stable_image(doc, cfg, moderate):
    prompt = doc.get("prompt")
    if not isinstance(prompt, str):
        raise malformed("#: required key [prompt] not found")
    if not 1 <= len(prompt) <= 10000:
        raise malformed("#/prompt: expected length 1..10000, actual: %d" % len(prompt))
    neg = doc.get("negative_prompt")
    if neg is not None and (not isinstance(neg, str) or len(neg) > 10000):
        raise malformed("#/negative_prompt: expected maxLength: 10000")
    ar = doc.get("aspect_ratio", "1:1")
    if ar not in ASPECT_SIZES:
        raise malformed("#/aspect_ratio: %s is not a valid enum value" % ar)
    fmt = doc.get("output_format", "png")
    if fmt not in ("png", "jpeg", "webp"):
        raise malformed("#/output_format: %s is not a valid enum value" % fmt)
    mode = doc.get("mode", "text-to-image")
    if mode not in ("text-to-image", "image-to-image"):
        raise malformed("#/mode: %s is not a valid enum value" % mode)
    if mode == "image-to-image":
        raise validation("fake-aws implements text-to-image only")
    seed = _int_field(doc, "seed", "seed", 0, 4294967294, 0)
    w, h = ASPECT_SIZES[ar]
    filtered = moderate or bool(textgen.find_words(prompt, cfg["image_blocked_words"]))
    data = png.make_png(w, h, _img_seed(prompt, seed, 0), grey=filtered)
    return {"seeds": [seed], "finish_reasons": ["Filter reason: prompt" if filtered else None],
            "images": [base64.b64encode(data).decode()]}
