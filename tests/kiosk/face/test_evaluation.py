"""The arithmetic of the face evaluation: rates, the operating point, decision rules; and
the rendering of evaluation photos (on a bundled portrait: the real set is not needed)."""

from __future__ import annotations

import numpy as np
import pytest

from hardware.sim import faces
from kiosk.face import evalset, evaluation
from kiosk.face.evaluation import Sample


def test_rates_and_threshold_for_far() -> None:
    imp = [0.30, 0.50, 0.55, 0.60, 0.70] + [0.8] * 995  # 1000 impostor pairs
    gen = [0.2, 0.4, 0.52, 0.58, 0.9]
    t = evaluation.threshold_for_far(imp, 0.001)  # at most 1 of 1000 accepted
    assert 0.30 <= t < 0.50
    far, frr = evaluation.rates(gen, imp, t)
    assert far == pytest.approx(0.001) and frr == pytest.approx(3 / 5)
    t2 = evaluation.threshold_for_far(imp, 0.003)
    assert 0.55 <= t2 < 0.60 and evaluation.rates(gen, imp, t2)[0] <= 0.003


def test_the_bounded_operating_point_leaves_room_for_other_impostors() -> None:
    """With 10 000 impostor pairs, 10 accepted is 0.1 % seen but up to 0.17 % at 95 %
    confidence (Clopper-Pearson); the bound allows 4 (upper bound 0.092 %)."""
    assert evaluation.far_upper(0, 2995) == pytest.approx(0.001, rel=0.01)  # the rule of 3
    assert evaluation.far_upper(10, 10_000) == pytest.approx(0.0017, abs=0.0001)
    imp = np.linspace(0.3, 1.0, 10_000)
    seen = evaluation.threshold_for_far(imp, 0.001)
    bounded = evaluation.threshold_for_far(imp, 0.001, confidence=0.95)
    assert int((imp <= seen).sum()) == 10 and int((imp <= bounded).sum()) == 4
    assert evaluation.far_upper(4, 10_000) <= 0.001 < evaluation.far_upper(5, 10_000)
    with pytest.raises(ValueError, match="cannot bound"):
        evaluation.threshold_for_far(imp[:1000], 0.001, confidence=0.95)


def _s(identity: str, index: int, ref: float, live: list[float]) -> Sample:
    def enc(v: float) -> np.ndarray:
        e = np.zeros(128)
        e[0] = v
        return e

    rng = np.random.default_rng(index + 10 * int(identity[-1]))
    thumb = rng.normal(size=576).astype(np.float32)
    thumb /= np.linalg.norm(thumb)
    return Sample(identity, index, "tune", chip=enc(ref), live=[enc(v) for v in live],
                  thumb=thumb)


def test_pair_distances_split_genuine_and_impostor_by_identity() -> None:
    samples = [_s("celeb:0", 0, 0.0, [0.1, 0.3]), _s("celeb:0", 1, 0.05, [0.2]),
               _s("celeb:1", 0, 1.0, [1.2, 1.4])]
    gen, imp, dups = evaluation.pair_distances(samples, "chip", "mean", "tune")
    assert dups == 0
    assert sorted(np.round(gen, 3)) == [0.15, 0.2]  # refs of one photo vs the other photo
    assert len(imp) == 4  # 2 refs of person 0 x person 1's session, person 1's ref x 2
    worst, _, _ = evaluation.pair_distances(samples, "chip", "all", "tune")
    assert max(worst) == pytest.approx(0.25)  # photo 1's ref vs the worst frame of photo 0
    none, _, _ = evaluation.pair_distances(samples, "chip", "mean", "report")
    assert none == []


def test_split_is_by_identity() -> None:
    assert evaluation.session_distance(np.zeros(128), [], "mean") != 0  # NaN: no frame
    ids = [f"portrait:{i}" for i in range(200)]
    splits = {i: evalset.split_of(i) for i in ids}
    assert set(splits.values()) == {"tune", "report"}
    assert all(evalset.split_of(i) == splits[i] for i in ids)  # stable
    assert {evalset.split_of(f"celeb:{n}") for n in evalset.CELEB_REPORT} == {"report"}


def test_renders_chip_platform_and_live_frames() -> None:
    photo = np.asarray(faces.portrait("astronaut"))
    box = evalset.face_box(photo)
    assert box is not None
    from kiosk.face.verify import FaceVerifier, decode_image

    assert decode_image(evalset.chip_reference(photo, box)).shape == (126, 102, 3)
    assert decode_image(evalset.platform_reference(photo, box)).shape == (441, 358, 3)
    frames = evalset.live_frames(photo, box, seed=4, n=3)
    assert len(frames) == 3 and all(f.shape == (480, 640, 3) for f in frames)
    v = FaceVerifier()
    widths = [v.analyse(f, bgr=True, encode=False).size for f in frames]
    assert all(100 <= w <= 270 for w in widths), widths


def test_missing_archives_are_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert not evalset.present(tmp_path)
    with pytest.raises(evalset.EvalSetMissing, match="fetch-evalset"):
        evalset.load(tmp_path)
