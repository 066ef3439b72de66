# %%
from IPython.display import display

from dalle_widgets.client import ImagesClient
from dalle_widgets.widgets import Gallery
from tests.fixtures.fake_openai import FAKE_KEY, FakeOpenAI

# SVG comes from the fake OpenAI service (the offline engine renders no SVG); the animated
# GIF and the transparent WebP from the offline engine this kernel starts (no key is set)
fake = FakeOpenAI().start()
remote = ImagesClient(api_key=FAKE_KEY, base_url=fake.base_url, model="gpt-image-2.6-flare")
engine = ImagesClient(model="gpt-image-2.6-flare")
svg = remote.generate("a fox logo", output_format="svg", size="1024x1024")
gif = engine.generate("a fox", output_format="gif", size="816x816")
sticker = engine.generate("a fox sticker", background="transparent", output_format="webp", size="1024x1024")
gallery = Gallery([*svg, *gif, *sticker], client=engine, thumb_px=160)
display(gallery)
