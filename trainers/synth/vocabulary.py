"""The synthetic world: nouns (detector classes), verbs, template words and their embeddings.

Every word gets a fixed random embedding in the text space (the "GloVe/CLIP" of this world);
nouns and verbs also get a visual pattern in the video space: a fixed linear map of the word's
embedding (video and text features are aligned, as with EgoVLP/InternVideo and CLIP) plus a
word-specific part, with unit variance per dimension. A noun is one detector class, at a
fixed position of the 1,203-row LVIS-sized class table, whose row is a noisy projection of the
noun's word embedding (like CLIP's "a photo of a {class}").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

NUM_CLASSES = 1203
NOUNS = (
    "knife",
    "pan",
    "bowl",
    "cup",
    "spoon",
    "plate",
    "bottle",
    "towel",
    "onion",
    "tomato",
    "carrot",
    "egg",
    "bread",
    "cheese",
    "lid",
    "jar",
    "sponge",
    "phone",
    "key",
    "wallet",
    "bag",
    "box",
    "drill",
    "hammer",
    "screw",
    "brush",
    "paint",
    "glove",
    "book",
    "laptop",
    "door",
    "drawer",
    "fridge",
    "pot",
    "kettle",
    "apple",
    "lemon",
    "potato",
    "pepper",
    "cucumber",
)
SURFACES = ("board", "counter", "table", "sink", "shelf", "stove")
VERBS = (
    "cut",
    "stir",
    "open",
    "close",
    "pick",
    "drop",
    "peel",
    "pour",
    "rinse",
    "slice",
    "fold",
    "clean",
    "move",
    "hold",
    "fill",
    "shake",
    "lift",
    "turn",
    "place",
    "check",
)
_TOKEN = re.compile(r"[a-z]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text``; verb forms ending in "s" map to the verb."""
    words = _TOKEN.findall(text.lower())
    return [w[:-1] if w.endswith("s") and w[:-1] in VERBS else w for w in words]


@dataclass
class Vocabulary:
    """Embeddings of one synthetic world (all drawn from one seed)."""

    word_vectors: dict[str, np.ndarray]  # word -> (text_dim,)
    visual: dict[str, np.ndarray]  # noun, surface or verb -> (video_dim,), unit variance per dim
    class_of: dict[str, int]  # noun or surface -> class id in [0, NUM_CLASSES)
    class_table: np.ndarray  # (NUM_CLASSES, class_dim) float32

    @classmethod
    def build(
        cls, rng: np.random.Generator, text_dim: int, video_dim: int, class_dim: int, template_words: list[str]
    ) -> Vocabulary:
        words = sorted(set(NOUNS) | set(SURFACES) | set(VERBS) | set(template_words))
        word_vectors = {w: rng.standard_normal(text_dim).astype(np.float32) for w in words}
        alignment = rng.standard_normal((video_dim, text_dim)).astype(np.float32) / np.sqrt(text_dim)
        visual = {}
        for w in (*NOUNS, *SURFACES, *VERBS):
            aligned = alignment @ word_vectors[w]
            aligned *= np.sqrt(video_dim) / np.linalg.norm(aligned)
            visual[w] = (0.8 * aligned + 0.6 * rng.standard_normal(video_dim)).astype(np.float32)
        objects = (*NOUNS, *SURFACES)
        ids = rng.choice(NUM_CLASSES, size=len(objects), replace=False)
        class_of = {name: int(i) for name, i in zip(objects, ids, strict=True)}
        table = rng.standard_normal((NUM_CLASSES, class_dim)).astype(np.float32)
        projection = rng.standard_normal((class_dim, text_dim)).astype(np.float32) / np.sqrt(text_dim)
        for name, class_id in class_of.items():
            table[class_id] = projection @ word_vectors[name] + 0.3 * table[class_id]
        return cls(word_vectors, visual, class_of, table)

    def token_features(self, text: str, rng: np.random.Generator, noise: float) -> np.ndarray:
        """float32 (L, text_dim): one noisy word vector per token of ``text``."""
        tokens = tokenize(text)
        vectors = np.stack([self.word_vectors[t] for t in tokens])
        return (vectors + noise * rng.standard_normal(vectors.shape)).astype(np.float32)
