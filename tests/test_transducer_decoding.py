"""RNN transducer decoding: hand-computed lattices, and small random networks searched
exhaustively (every labelling scored by the forward algorithm, every alignment enumerated)."""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest

from lstmrec.features.audio import FeatureConfig
from lstmrec.inference.transcribe import TimedPhone, Transcript, boundary_s, token_times
from lstmrec.models.decoding import Token
from lstmrec.models.transducer_decoding import (
    DenseJoint,
    LSTMPrediction,
    TransducerStep,
    alignment_log_prob,
    beam_transducer,
    greedy_transducer,
    sequence_log_prob,
    transducer_tokens,
)

BLANK, A, B = 0, 1, 2


def table_step(table: dict, default: list[float]) -> TransducerStep:
    """A transducer whose distribution (probabilities, blank first) at frame ``t`` after the
    labels ``prefix`` is ``table[(t, prefix)]``, else ``table[(t, len(prefix))]``, else
    ``default``: the state and ``g`` are the labels so far, and ``enc[t] = [t]``."""

    def predict(prefix, label):
        prefix = prefix if label == BLANK else (*prefix, label)
        return np.array(prefix, dtype=np.float64), prefix

    def joint(enc_t, g):
        t, prefix = int(enc_t[0]), tuple(int(k) for k in g)
        probs = table.get((t, prefix), table.get((t, len(prefix)), default))
        with np.errstate(divide="ignore"):
            return np.log(probs)

    return TransducerStep(predict, joint, ())


def random_table(seed: int, frames: int, longest: int) -> dict:
    """Random distributions over blank, a, b for every frame and labelling up to ``longest``
    labels; after ``longest`` labels only the blank (so every labelling can be enumerated)."""
    rng = np.random.default_rng(seed)
    table = {}
    for t, prefix in itertools.product(range(frames), labellings(2, longest)):
        table[(t, prefix)] = list(rng.dirichlet([1.0, 1.0, 1.0]))
        if len(prefix) == longest:
            table[(t, prefix)] = [1.0, 0.0, 0.0]
    return table


def frames_enc(steps: int) -> np.ndarray:
    return np.arange(steps, dtype=np.float64)[:, None]


def random_step(seed: int, *, num_labels=2, frames=3, blank_bias=2.5):
    """A one-hot LSTM prediction network and a dense joint with random weights (seeded), and
    random ``(frames, 3)`` encoder outputs. ``blank_bias`` on the blank's output keeps long
    labellings improbable, so that those up to length 6 hold nearly all the mass."""
    rng = np.random.default_rng(seed)
    hp, v = 4, num_labels
    pred = LSTMPrediction(
        rng.normal(0, 1, (v, 4 * hp)), rng.normal(0, 1, (hp, 4 * hp)), rng.normal(0, 0.5, 4 * hp)
    )
    out_bias = np.zeros(v + 1)
    out_bias[BLANK] = blank_bias
    joint = DenseJoint(
        rng.normal(0, 1, (3, 5)),
        rng.normal(0, 1, (hp, 5)),
        rng.normal(0, 0.5, 5),
        rng.normal(0, 1, (5, v + 1)),
        out_bias,
    )
    return TransducerStep.of(pred, joint), rng.normal(0, 1, (frames, 3))


def alignments(enc, step, labels) -> dict[tuple[int, ...], float]:
    """Every path of ``labels`` (the frame of each label, non-decreasing) and its log-probability,
    walked step by step through the networks."""
    out = {}
    for frames in itertools.combinations_with_replacement(range(len(enc)), len(labels)):
        g, state = step.predict(step.initial_state, BLANK)
        total, u = 0.0, 0
        for t, enc_t in enumerate(enc):
            while u < len(labels) and frames[u] == t:
                total += step.joint(enc_t, g)[labels[u]]
                g, state = step.predict(state, labels[u])
                u += 1
            total += step.joint(enc_t, g)[BLANK]
        out[frames] = total
    return out


def labellings(num_labels: int, longest: int):
    return [
        s for n in range(longest + 1) for s in itertools.product(range(1, num_labels + 1), repeat=n)
    ]


def test_lstm_prediction_matches_keras_lstm():
    keras = pytest.importorskip("keras")
    step, _ = random_step(3, num_labels=3)
    pred = step.predict
    layer = keras.layers.LSTM(pred.units, return_sequences=True)
    layer.build((1, None, 3))
    layer.set_weights([pred.kernel, pred.recurrent, pred.bias])
    labels = [BLANK, 2, 1, 3, 3]
    one_hot = np.zeros((1, len(labels), 3), dtype=np.float32)  # the start symbol: zeros
    for i, k in enumerate(labels[1:], 1):
        one_hot[0, i, k - 1] = 1.0
    expected = keras.ops.convert_to_numpy(layer(one_hot))[0]
    state, got = step.initial_state, []
    for k in labels:
        g, state = step.predict(state, k)
        got.append(g)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    embedded = LSTMPrediction(
        pred.kernel, pred.recurrent, pred.bias, np.vstack([np.zeros(3), np.eye(3)])
    )
    state = embedded.initial_state()
    for k, want in zip(labels, got, strict=True):
        g, state = embedded(state, k)
        np.testing.assert_allclose(g, want, atol=1e-12)


def test_dense_joint_by_hand():
    joint = DenseJoint([[1.0]], [[2.0]], [0.5], [[0.0, 1.0, -1.0]], [0.0, 0.0, 0.3])
    h = np.tanh(1.0 * 0.3 + 2.0 * 0.2 + 0.5)
    logits = np.array([0.0, h, -h + 0.3])
    expected = logits - np.log(np.exp(logits).sum())
    np.testing.assert_allclose(joint(np.array([0.3]), np.array([0.2])), expected, atol=1e-12)


# Two frames, one label "a". Frame 0 after no label: blank .4, a .6; after one: blank .9, a .1.
# Frame 1 after no label: blank .7, a .3; after one: blank .8, a .2.
TWO_FRAMES = table_step(
    {(0, 0): [0.4, 0.6], (0, 1): [0.9, 0.1], (1, 0): [0.7, 0.3], (1, 1): [0.8, 0.2]},
    default=[0.9, 0.1],
)


def test_sequence_log_prob_by_hand():
    enc = frames_enc(2)
    assert np.exp(sequence_log_prob(enc, TWO_FRAMES, [])) == pytest.approx(0.4 * 0.7)
    # "a" on frame 0 (.6 * .9 * .8) or on frame 1 (.4 * .3 * .8).
    assert np.exp(sequence_log_prob(enc, TWO_FRAMES, [A])) == pytest.approx(0.432 + 0.096)
    # "aa": both on frame 0, one on each, both on frame 1; frame 1 after two labels is .9/.1.
    aa = 0.6 * 0.1 * 0.9 * 0.9 + 0.6 * 0.9 * 0.2 * 0.9 + 0.4 * 0.3 * 0.2 * 0.9
    assert np.exp(sequence_log_prob(enc, TWO_FRAMES, [A, A])) == pytest.approx(aa)
    assert np.exp(alignment_log_prob(enc, TWO_FRAMES, [A], [1])) == pytest.approx(0.096)
    assert np.exp(alignment_log_prob(enc, TWO_FRAMES, [A, A], [0, 0])) == pytest.approx(
        0.6 * 0.1 * 0.9 * 0.9
    )


@pytest.mark.parametrize("seed", range(3))
def test_sequence_log_prob_sums_every_alignment(seed):
    step, enc = random_step(seed)
    for steps in (1, 2, 3):
        for labels in labellings(2, 3):
            paths = alignments(enc[:steps], step, labels)
            total = np.logaddexp.reduce(list(paths.values()))
            assert sequence_log_prob(enc[:steps], step, labels) == pytest.approx(total, abs=1e-10)
            for frames, log_p in paths.items():
                got = alignment_log_prob(enc[:steps], step, labels, frames)
                assert got == pytest.approx(log_p, abs=1e-10)


def test_probabilities_of_all_labellings_sum_to_one():
    step = table_step(random_table(0, frames=3, longest=3), default=[1.0, 0.0, 0.0])
    enc = frames_enc(3)
    total = sum(np.exp(sequence_log_prob(enc, step, y)) for y in labellings(2, 3))
    assert total == pytest.approx(1.0, abs=1e-12)


# Frame 0: a (.6), then b (.5), then blank (.7). Frame 1: blank (.9). Frame 2: a (.8), blank (.6).
GREEDY_TABLE = {
    (0, 0): [0.3, 0.6, 0.1],
    (0, 1): [0.2, 0.3, 0.5],
    (0, 2): [0.7, 0.2, 0.1],
    (1, 1): [0.4, 0.5, 0.1],
    (1, 2): [0.9, 0.05, 0.05],
    (2, 1): [0.1, 0.1, 0.8],
    (2, 2): [0.1, 0.8, 0.1],
    (2, 3): [0.6, 0.3, 0.1],
}


def test_greedy_by_hand():
    step = table_step(GREEDY_TABLE, default=[1.0, 0.0, 0.0])
    enc = frames_enc(3)
    hyp = greedy_transducer(enc, step)
    assert (hyp.labels, hyp.frames) == ((A, B, A), (0, 0, 2))
    assert np.exp(hyp.acoustic) == pytest.approx(0.6 * 0.5 * 0.7 * 0.9 * 0.8 * 0.6)
    assert hyp.score == hyp.acoustic and hyp.lm == 0.0
    assert hyp.acoustic == pytest.approx(alignment_log_prob(enc, step, hyp.labels, hyp.frames))
    assert transducer_tokens(hyp) == [Token(A, 0, 0), Token(B, 0, 2), Token(A, 2, 3)]
    # One label a frame: a on frame 0, then the blank (.2) although b is likelier; frame 1
    # after one label emits a (.5) and its blank (.9 after two); frame 2 emits a (.8), blank .6.
    capped = greedy_transducer(enc, step, max_symbols_per_frame=1)
    assert (capped.labels, capped.frames) == ((A, A, A), (0, 1, 2))
    assert np.exp(capped.acoustic) == pytest.approx(0.6 * 0.2 * 0.5 * 0.9 * 0.8 * 0.6)


def test_a_greedy_n_best_gives_the_labellings_probability_like_ctc():
    """With --nbest, greedy CTC reports its labelling's forward score (every alignment); a
    transducer reported the one path greedy took, a lower figure for the same labels."""
    from lstmrec.inference.decoder import Decoder, DecoderOptions

    step = table_step(GREEDY_TABLE, default=[1.0, 0.0, 0.0])
    enc = frames_enc(3)
    decoder = Decoder(DecoderOptions(beam=0, nbest=2), ["<blank>", "a", "b"], transducer=step)
    (hyp,) = decoder(enc).nbest
    path = greedy_transducer(enc, step)
    assert hyp.labels == path.labels == (A, B, A)
    exact = sequence_log_prob(enc, step, hyp.labels)
    assert hyp.acoustic == hyp.score == pytest.approx(exact)
    assert exact > path.acoustic + 0.1  # other alignments of a b a add to it
    assert decoder(enc).tokens == transducer_tokens(path)  # the times are still greedy's path


def test_labels_emitted_on_one_frame_share_its_time_in_equal_parts():
    """A transducer emits a and b on frame 0 and a on frame 2 (as greedy does above): a and b
    share frames 0-1, so neither is of zero length in JSON or CTM; a CTC token is as before."""
    bundle = types.SimpleNamespace(features=FeatureConfig())
    tokens = [Token(A, 0, 0), Token(B, 0, 2), Token(A, 2, 3)]
    b0, b2, b3 = (boundary_s(t, bundle) for t in (0, 2, 3))
    times = token_times(bundle, tokens, duration=1.0)
    mid = (b0 + b2) / 2
    np.testing.assert_allclose(times, [(b0, mid), (mid, b2), (b2, b3)])
    timed = [TimedPhone(p, s, e) for p, (s, e) in zip(["aa", "b", "aa"], times, strict=True)]
    ctm = [line.split() for line in Transcript("x.wav", 1.0, timed, id="x").ctm_lines()]
    assert [f[3] for f in ctm] == ["0.010", "0.010", "0.010"]  # not 0.000, 0.020, 0.010
    ctc = token_times(bundle, [Token(A, 0, 3), Token(B, 3, 5)], 1.0)
    np.testing.assert_allclose(ctc, [(b0, b3), (b3, boundary_s(5, bundle))])
    cut = token_times(bundle, tokens, duration=0.01)  # the audio ends within frame 0
    np.testing.assert_allclose(cut, [(b0, 0.00875), (0.00875, 0.01), (0.01, 0.01)])


def test_prefix_merge_by_hand():
    # Beam 2 keeps {a (.54), "" (.4)} after frame 0. On frame 1 merging adds to "a" the path
    # from "" (.4 * .3) before anything is popped, so "a" gets all its mass (.66 * .8 = .528).
    # Without it, "a" is popped first (.54 * .8); the path from "" comes later (.12) and falls
    # below B's second best (.28), so it is lost.
    enc = frames_enc(2)
    merged = beam_transducer(enc, TWO_FRAMES, beam=2, nbest=2)
    assert [h.labels for h in merged] == [(A,), ()]
    assert np.exp([h.acoustic for h in merged]) == pytest.approx([0.528, 0.28])
    assert [h.frames for h in merged] == [(0,), ()]  # .432 on frame 0 beats .096 on frame 1
    assert merged[0].acoustic == pytest.approx(sequence_log_prob(enc, TWO_FRAMES, [A]))
    plain = beam_transducer(enc, TWO_FRAMES, beam=2, nbest=2, prefix_merge=False)
    assert [h.labels for h in plain] == [(A,), ()]
    assert np.exp([h.acoustic for h in plain]) == pytest.approx([0.432, 0.28])


def check_wide_beam(x, step, scores: dict) -> None:
    """A wide beam, with prefix merging, returns the five most probable labellings of
    ``scores`` (exact log-probabilities of all labellings but a negligible mass) with their
    exact log-probabilities and Viterbi paths; without merging, the most probable labelling,
    scored by some of its paths."""
    ranked = sorted(scores, key=scores.get, reverse=True)
    unseen = 1.0 - np.exp(list(scores.values())).sum()  # the mass of labellings not scored
    assert np.exp(scores[ranked[4]]) > unseen  # so ranked[:5] are the five most probable
    hyps = beam_transducer(x, step, beam=100, nbest=5)
    assert [h.labels for h in hyps] == ranked[:5]
    for h in hyps:
        assert h.acoustic == pytest.approx(scores[h.labels], abs=1e-6)
        paths = alignments(x, step, h.labels)
        assert h.frames == max(paths, key=paths.get)
    (plain,) = beam_transducer(x, step, beam=100, prefix_merge=False)
    assert plain.labels == ranked[0]
    assert scores[ranked[1]] < plain.acoustic <= scores[ranked[0]] + 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2, 5])
def test_wide_beam_finds_the_most_probable_labellings(seed):
    step, enc = random_step(seed)
    for steps in (1, 2, 3):
        x = enc[:steps]
        check_wide_beam(x, step, {y: sequence_log_prob(x, step, y) for y in labellings(2, 6)})


@pytest.mark.parametrize("seed", range(4))
def test_wide_beam_on_every_labelling_of_a_random_table(seed):
    # At most three labels: all 15 labellings are scored, and the best is rarely empty.
    table = random_table(seed, frames=3, longest=3)
    step = table_step(table, default=[1.0, 0.0, 0.0])
    for steps in (1, 2, 3):
        x = frames_enc(steps)
        scores = {y: sequence_log_prob(x, step, y) for y in labellings(2, 3)}
        check_wide_beam(x, step, scores)


@pytest.mark.parametrize("merge", [True, False])
def test_nbest_is_ordered_distinct_and_scored_by_kept_paths(merge):
    for seed, width in itertools.product(range(3), (2, 3, 5)):
        step, enc = random_step(seed, num_labels=3, frames=5, blank_bias=1.0)
        hyps = beam_transducer(enc, step, beam=width, nbest=10, prefix_merge=merge)
        assert 1 <= len(hyps) <= width
        assert len({h.labels for h in hyps}) == len(hyps)
        log_probs = [h.acoustic for h in hyps]
        assert log_probs == sorted(log_probs, reverse=True)
        for h in hyps:
            assert len(h.frames) == len(h.labels)
            best_path = alignment_log_prob(enc, step, h.labels, h.frames)
            assert best_path <= h.acoustic + 1e-9
            assert h.acoustic <= sequence_log_prob(enc, step, h.labels) + 1e-9
        assert len(beam_transducer(enc, step, beam=width, nbest=1, prefix_merge=merge)) == 1


def frame_by_frame_best(enc, step, depth: int):
    """What a beam of one must find: on each frame, the continuation (labels emitted on the
    frame, then the blank) of the single kept labelling with the highest probability, by
    enumerating the continuations up to ``depth`` labels; returns labels, frames, log-prob."""
    labels, frames, total = (), (), 0.0
    for t, enc_t in enumerate(enc):
        best, deepest = None, -np.inf
        for n in range(depth + 1):
            for more in itertools.product((A, B), repeat=n):
                g, state = step.predict(step.initial_state, BLANK)
                for k in labels:
                    g, state = step.predict(state, k)
                log_p = 0.0
                for k in more:
                    log_p += step.joint(enc_t, g)[k]
                    g, state = step.predict(state, k)
                deepest = max(deepest, log_p) if n == depth else deepest
                log_p += step.joint(enc_t, g)[BLANK]
                if best is None or log_p > best[0]:
                    best = (log_p, more)
        assert best[0] > deepest  # no longer continuation can do better
        labels, frames, total = labels + best[1], frames + (t,) * len(best[1]), total + best[0]
    return labels, frames, total


@pytest.mark.parametrize("seed", range(3))
def test_beam_of_one_keeps_the_best_continuation_of_each_frame(seed):
    # A beam of one is not greedy decoding: on each frame it compares whole continuations
    # (labels then blank), where greedy takes the likeliest class one step at a time.
    step, enc = table_step(random_table(seed, 4, 4), [1.0, 0.0, 0.0]), frames_enc(4)
    labels, frames, total = frame_by_frame_best(enc, step, depth=4)
    assert labels  # not trivial: the blank is not always the best continuation
    for merge in (True, False):
        (hyp,) = beam_transducer(enc, step, beam=1, nbest=3, prefix_merge=merge)
        assert (hyp.labels, hyp.frames) == (labels, frames)
        assert hyp.acoustic == pytest.approx(total, abs=1e-10)  # one path


def test_greedy_and_beam_of_one_differ_where_a_label_leads_nowhere():
    # Frame 0: a (.5) beats the blank (.45), but after a the blank is only .1; frame 1 is all
    # blank. Greedy: a then blank, .05. A beam of one: the blank at once, .45.
    step = table_step({(0, 0): [0.45, 0.5, 0.05], (0, 1): [0.1, 0.8, 0.1]}, [1.0, 0.0, 0.0])
    enc = frames_enc(2)
    greedy = greedy_transducer(enc, step, max_symbols_per_frame=1)
    assert greedy.labels == (A,) and np.exp(greedy.acoustic) == pytest.approx(0.05)
    (hyp,) = beam_transducer(enc, step, beam=1, prefix_merge=False)
    assert hyp.labels == () and np.exp(hyp.acoustic) == pytest.approx(0.45)


def test_max_symbols_per_frame_limits_the_beam_search():
    # Two frames where three a's then the blank (.6^3 * .9 * .9) beat everything: unlimited,
    # the search finds them on frame 0. One label per frame allows two labels at most; then
    # "a" (on frame 0 or 1: 2 * .6 * .1 * .1) beats "" (.1 * .1) and "aa" (.6 * .1 * .6 * .1).
    table = {(t, u): [0.1, 0.6, 0.3] for t in range(2) for u in range(3)}
    table.update({(t, u): [0.9, 0.05, 0.05] for t in range(2) for u in range(3, 6)})
    step, enc = table_step(table, default=[1.0, 0.0, 0.0]), frames_enc(2)
    for merge in (True, False):
        best = beam_transducer(enc, step, beam=4, prefix_merge=merge)[0]
        assert (best.labels, best.frames) == ((A, A, A), (0, 0, 0))
        assert np.exp(best.acoustic) >= 0.6**3 * 0.9 * 0.9
        capped = beam_transducer(
            enc, step, beam=4, nbest=4, prefix_merge=merge, max_symbols_per_frame=1
        )
        assert capped[0].labels == (A,)
        assert np.exp(capped[0].acoustic) == pytest.approx(0.012)
        assert all(len(h.labels) <= 2 for h in capped)


def test_no_frames_and_bad_arguments():
    step, enc = random_step(0)
    empty = np.zeros((0, 3))
    assert greedy_transducer(empty, step).labels == ()
    (hyp,) = beam_transducer(empty, step)
    assert (hyp.labels, hyp.frames, hyp.acoustic) == ((), (), 0.0)
    assert sequence_log_prob(empty, step, []) == 0.0
    assert sequence_log_prob(empty, step, [A]) == -np.inf
    with pytest.raises(ValueError, match="enc must be"):
        beam_transducer(enc[0], step)
    with pytest.raises(ValueError, match="must be at least 1"):
        beam_transducer(enc, step, beam=0)
    with pytest.raises(ValueError, match="labels must be in 1..2"):
        sequence_log_prob(enc, step, [A, 3])
    with pytest.raises(ValueError, match="non-decreasing"):
        alignment_log_prob(enc, step, [A, B], [1, 0])
    with pytest.raises(ValueError, match="must lie in"):
        alignment_log_prob(enc, step, [A], [3])
