import numpy as np

from fabrec_bench.schemes import IBUG68, WFLW98, WFLW98_TO_IBUG68


def test_wflw_flip_pairs_follow_the_release_semantics():
    perm = WFLW98.flip_permutation
    assert perm[60] == 72 and perm[72] == 60  # outer eye corners
    assert perm[64] == 68  # inner eye corners
    assert perm[96] == 97  # pupils
    assert perm[16] == 16 and perm[57] == 57 and perm[79] == 79  # chin, nose centre, top lip centre
    assert perm[0] == 32 and perm[76] == 82


def test_flipping_twice_is_the_identity():
    for scheme in (WFLW98, IBUG68):
        perm = np.asarray(scheme.flip_permutation)
        assert (perm[perm] == np.arange(scheme.num_points)).all()


def test_98_to_68_mapping_commutes_with_flipping():
    mapping = np.asarray(WFLW98_TO_IBUG68)
    flip98 = np.asarray(WFLW98.flip_permutation)
    flip68 = np.asarray(IBUG68.flip_permutation)
    # Flipping then reducing equals reducing then flipping.
    assert (flip98[mapping] == mapping[flip68]).all()
    assert mapping[36] == 60 and mapping[45] == 72  # outer eye corners survive the reduction
