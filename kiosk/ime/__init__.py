"""Chinese input for the on-screen keyboard: pinyin (whole or initials) to ranked candidate
words, in simplified or traditional characters. Pure Python, no Kivy.

- :mod:`kiosk.ime.pinyin`: syllables and the segmentation of typed letters
- :mod:`kiosk.ime.lexicon`: words, readings and frequencies from pypinyin and jieba's data
- :mod:`kiosk.ime.engine`: candidate ranking
- :mod:`kiosk.ime.composer`: the keyboard's state (letters pending, pages, choices)
- :mod:`kiosk.ime.script`: OpenCC conversion for zh_HK
- :mod:`kiosk.ime.shared`: the kiosk's one engine and division tree, built on a worker
"""

from kiosk.ime.composer import Composer
from kiosk.ime.engine import Candidate, PinyinEngine
from kiosk.ime.lexicon import Lexicon, LexiconError, build_lexicon
from kiosk.ime.pinyin import Syllables, Token
from kiosk.ime.script import ScriptError, is_traditional, to_script

__all__ = ["Candidate", "Composer", "Lexicon", "LexiconError", "PinyinEngine", "ScriptError",
           "Syllables", "Token", "build_lexicon", "is_traditional", "to_script"]
