"""Tiny random Kandinsky-2.2-shaped pipelines, built in code: tests and benchmarks, no download.

:func:`build_tiny_recipe` builds a prior (with CLIP text and image encoders), a decoder
and an inpaint decoder of a few hundred thousand random parameters each, saves them with
``save_pretrained`` the way the real checkpoints are laid out, and writes a recipe that
points at them. The backend then loads them through exactly the path it uses for real
weights. The pictures are noise-like, but every shape, dtype, scheduler and callback is
the real pipeline's, so generate, edit, vary, previews, cancel and determinism are all
exercised in seconds on a CPU.

The CLIP tokenizer is written as a byte-level vocabulary (``<|startoftext|>``,
``<|endoftext|>`` and the 256 byte characters, bare and with ``</w>``: 514 tokens, no
merges) and loaded with ``CLIPTokenizer.from_pretrained``: any prompt tokenizes with no
unknown token, identically under transformers 4 and 5. (Building ``CLIPTokenizer`` with
``vocab_file=`` silently yields a 3-token vocabulary under transformers 5.)
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["TINY_NATIVE_SIZE", "build_tiny_recipe"]

#: The tiny pipelines render at this size; the backend resamples to the request's size.
TINY_NATIVE_SIZE = 64
_EMBED = 32  # CLIP embedding width shared by the prior, both encoders and the decoders


def _byte_level_alphabet() -> list[str]:
    try:
        from tokenizers.pre_tokenizers import ByteLevel

        return sorted(ByteLevel.alphabet())
    except (ImportError, AttributeError):  # pragma: no cover - transformers 4 without tokenizers' API
        from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

        return sorted(bytes_to_unicode().values())


def _write_tokenizer(directory: Path):
    from transformers import CLIPTokenizer

    chars = _byte_level_alphabet()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    raw = directory / "_vocab"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (raw / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer.from_pretrained(str(raw), model_max_length=77), len(vocab)


def _unet(in_channels: int):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        in_channels=in_channels,
        out_channels=8,  # mean and variance, as Kandinsky's decoder predicts
        addition_embed_type="image",
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        block_out_channels=(32, 64),
        layers_per_block=1,
        encoder_hid_dim=_EMBED,
        encoder_hid_dim_type="image_proj",
        cross_attention_dim=32,
        attention_head_dim=4,
        resnet_time_scale_shift="scale_shift",
        class_embed_type=None,
    )


def _movq():
    from diffusers import VQModel

    # Four blocks, as the real MoVQ: latents are 8x smaller than the image, so the UNet
    # works on the grid the pipelines (and the 8 px mask dilation) assume. No attention
    # anywhere: it is quadratic in pixels, and a tiny model gains nothing from it.
    return VQModel(
        block_out_channels=[32, 32, 32, 32],
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        norm_type="spatial",
        num_vq_embeddings=12,
        vq_embed_dim=4,
        mid_block_add_attention=False,
    )


def _decoder_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_schedule="linear",
        beta_start=0.00085,
        beta_end=0.012,
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="epsilon",
        thresholding=False,
    )


def build_tiny_recipe(directory: str | Path, *, seed: int = 0) -> Path:
    """Build and save tiny random prior, decoder and inpaint pipelines; return the recipe's path.

    Parameters
    ----------
    directory : str or Path
        Where to write ``prior/``, ``decoder/``, ``inpaint/`` and ``recipe.toml``
        (created if missing).
    seed : int
        Seed for the random weights: the same seed builds the same pipelines.

    Returns
    -------
    Path
        ``directory / "recipe.toml"``: the Kandinsky 2.2 recipe shape with local
        directories, native size 64, one or two steps per quality, on the CPU in float32.
    """
    import torch
    from diffusers import (
        KandinskyV22InpaintPipeline,
        KandinskyV22Pipeline,
        KandinskyV22PriorPipeline,
        PriorTransformer,
        UnCLIPScheduler,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPTextConfig,
        CLIPTextModelWithProjection,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    tokenizer, vocab_size = _write_tokenizer(root)
    torch.manual_seed(seed)
    text_encoder = CLIPTextModelWithProjection(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=_EMBED,
            projection_dim=_EMBED,
            intermediate_size=37,
            layer_norm_eps=1e-05,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=vocab_size,
            max_position_embeddings=77,
        )
    )
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=_EMBED,
            image_size=32,
            projection_dim=_EMBED,
            intermediate_size=37,
            num_attention_heads=4,
            num_channels=3,
            num_hidden_layers=2,
            patch_size=4,
        )
    )
    image_processor = CLIPImageProcessor(
        crop_size=32,
        do_center_crop=True,
        do_normalize=True,
        do_resize=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
        resample=3,
        size=32,
    )
    prior = PriorTransformer(num_attention_heads=2, attention_head_dim=12, embedding_dim=_EMBED, num_layers=1)
    # A fresh PriorTransformer has clip_std = 0, which would collapse every embedding to 0.
    prior.clip_std = torch.nn.Parameter(torch.ones(prior.clip_std.shape))
    KandinskyV22PriorPipeline(
        prior=prior,
        image_encoder=image_encoder,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=UnCLIPScheduler(
            variance_type="fixed_small_log",
            prediction_type="sample",
            num_train_timesteps=1000,
            clip_sample=True,
            clip_sample_range=10.0,
        ),
        image_processor=image_processor,
    ).save_pretrained(root / "prior")
    torch.manual_seed(seed + 1)
    KandinskyV22Pipeline(unet=_unet(4), scheduler=_decoder_scheduler(), movq=_movq()).save_pretrained(
        root / "decoder"
    )
    torch.manual_seed(seed + 2)
    KandinskyV22InpaintPipeline(unet=_unet(9), scheduler=_decoder_scheduler(), movq=_movq()).save_pretrained(
        root / "inpaint"
    )
    recipe = root / "recipe.toml"
    recipe.write_text(
        f"""# Tiny random Kandinsky-2.2-shaped pipelines (dalle_widgets.engine.backends.diffusers.tiny):
# noise-like pictures, real code paths. For tests and benchmarks only.
family = "kandinsky2.2"
prior = "prior"
decoder = "decoder"
inpaint = "inpaint"
native_size = {TINY_NATIVE_SIZE}
device = "cpu"
dtype = "float32"
guidance = 4.0

[steps]
low = 2
medium = 2
high = 3

[prior_steps]
low = 2
medium = 2
high = 2
""",
        encoding="utf-8",
    )
    return recipe
