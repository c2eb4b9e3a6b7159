#!/usr/bin/env python3
"""Writes the seed corpus of the launch fuzzer: fuzz/corpus/launch/<name>.

Each seed is a small program in the byte format that launch_fuzzer.cpp decodes (see
fuzz_case there): a header byte (rank, order, queue, fill), the shape, then operations.
The helpers below mirror the decoder; `NDL_FUZZ_TRACE=1 build/fuzz/fuzz/ndl_launch_fuzzer
fuzz/corpus/launch/*` prints what each seed does.

Usage: fuzz/make_corpus.py [output-dir]   (default: fuzz/corpus/launch next to this file)
"""
import os
import sys

# Operation codes (the first byte of an operation, modulo 12).
SLICE, RESET, RANGE_WRITE, ASYNC_CHAIN, ND_LOCAL, ND_PLAIN = 0, 2, 3, 4, 5, 6
DIVERGENCE, THROW, MISUSE, HOST_COPY, TO_HOST = 7, 8, 9, 10, 11


def below(value, n):
    """Bytes that byte_reader::below(n) decodes to `value`."""
    assert 0 <= value < n
    return [value & 0xFF, value >> 8] if n > 256 else [value]


def header(rank, f_order=False, out_of_order=False, full=False, shape=()):
    assert len(shape) == rank
    flags = (rank - 1) | (4 if f_order else 0) | (8 if out_of_order else 0) | (16 if full else 0)
    out = [flags]
    cap = {1: 4097, 2: 65, 3: 17}[rank]
    for e in shape:
        out += below(e, cap)
    return out


# Selectors of a SLICE operation; each takes the extent of its dimension.
def all_():
    return lambda e: [0]


def index(i):
    return lambda e: [2] + below(i, e)


def raw_index(i):
    return lambda e: [3] + below(i + 3, e + 6)


def raw_slice(start, stop, step):
    return lambda e: [7] + below(start + 3, e + 7) + below(stop + 3, e + 7) + below(step + 4, 9)


def valid_slice(start, stop, step):
    """A slice the decoder builds valid: |step| in 1..3, start inside, stop towards it."""
    def enc(e):
        b = (abs(step) - 1) | (4 if step < 0 else 0)
        out = [4, b]
        if e == 0:
            return out
        out += below(start, e)
        out += below(stop - start, e - start + 1) if step > 0 else below(stop + 1, start + 2)
        return out
    return enc


def slice_op(shape, *selectors):
    out = [SLICE]
    for e, s in zip(shape, selectors):
        out += s(e)
    return out


def subrange(shape, sub=None):
    """The whole view (sub=None) or a sub-range of it."""
    if sub is None:
        return [0]
    bits = sum(1 << d for d in range(len(shape)))
    out = [bits]
    for e, r in zip(shape, sub):
        out += below(r, e + 1)
    return out


def range_write(shape, how=0, salt=1, sub=None):
    """how: 0 inferred queue, 1 explicit queue, 2 async."""
    return [RANGE_WRITE] + subrange(shape, sub) + [how, salt]


def async_chain(shape, salt=2, host_first=False, sub=None):
    return [ASYNC_CHAIN] + subrange(shape, sub) + [salt, 1 if host_first else 0]


def nd_pick(shape, local, groups=None):
    """Work-group shape `local`; all whole groups that fit, or `groups` of them per dim."""
    rank = len(shape)
    cap = {1: 256, 2: 32, 3: 8}[rank]
    out = [0 if groups is None else (1 << rank) - 1]
    for d, (e, l) in enumerate(zip(shape, local)):
        out += below(l - 1, min(e if e else 4, cap))
        if groups is not None:
            out += below(groups[d], e // l + 1)
    return out


def nd_local(shape, local, salt=3, groups=None):
    return [ND_LOCAL] + nd_pick(shape, local, groups) + [salt]


def nd_plain(shape, local, salt=4):
    return [ND_PLAIN, 1] + nd_pick(shape, local) + [salt]


def nd_plain_raw(shape, local, salt=4):
    """Global = the whole view, local as given (may be 0, not dividing, or too large)."""
    cap = 2049 if len(shape) == 1 else 65
    out = [ND_PLAIN, 0]
    for l in local:
        out += below(l, cap)
    return out + [salt]


def divergence(shape, local, variant, odd_one):
    group = 1
    for l in local:
        group *= l
    return [DIVERGENCE] + nd_pick(shape, local) + [variant] + below(odd_one, group)


def throw(shape, thrower, kind=0, async_=False, salt=5, sub=None):
    """kind: 0 std::runtime_error, 1 ndl::error, 2 an int."""
    total = 1
    for e in sub or shape:
        total *= e
    return ([THROW] + subrange(shape, sub) + below(thrower, total + 2) +
            [(1 if async_ else 0) | (kind << 1), salt])


def misuse(shape, variant, extra=0, local=None):
    """0 local_accessor in a range launch, 1 too much local memory, 2 empty local_accessor,
    3 negative extent, 4 copy_from_host of the wrong size (extra & 8: one too few)."""
    out = [MISUSE, variant, extra]
    if variant in (1, 2):
        out += nd_pick(shape, local or [1] * len(shape))
    return out


def host_copy(salt=6, async_=False):
    return [HOST_COPY, salt, 1 if async_ else 0]


def to_host():
    return [TO_HOST]


def reset():
    return [RESET]


def seeds():
    s = {}
    s["r1_c_write"] = header(1, shape=[100]) + range_write([100]) + to_host()
    s["r1_reverse_slice"] = (header(1, shape=[50]) + slice_op([50], valid_slice(49, -1, -1)) +
                             range_write([50], how=1) + host_copy() + to_host())
    s["r1_big_chunks"] = (header(1, out_of_order=True, shape=[4096]) + range_write([4096]) +
                          async_chain([4096], host_first=True) + nd_plain([4096], [128]))
    s["r1_nd_local_fibers"] = (header(1, shape=[512]) + nd_local([512], [256]) +
                               nd_local([512], [64], groups=[3]) + to_host())
    s["r2_c_strided"] = (header(2, shape=[16, 12]) +
                         slice_op([16, 12], valid_slice(1, 15, 2), valid_slice(11, -1, -3)) +
                         range_write([7, 4]) + nd_local([7, 4], [7, 2]) + to_host())
    s["r2_f_index"] = (header(2, f_order=True, shape=[20, 30]) +
                       slice_op([20, 30], index(3), all_()) + range_write([30], how=2) +
                       async_chain([30]) + reset() + to_host())
    s["r2_sub_range"] = (header(2, full=True, shape=[9, 10]) +
                         range_write([9, 10], sub=[4, 7]) + throw([9, 10], 13, async_=True) +
                         nd_plain([9, 10], [3, 5]))
    s["r3_c_slices"] = (header(3, shape=[8, 6, 4]) +
                        slice_op([8, 6, 4], valid_slice(0, 8, 2), all_(), valid_slice(3, -1, -1)) +
                        nd_local([4, 6, 4], [2, 3, 2]) + range_write([4, 6, 4]) + to_host())
    s["r3_f_index_middle"] = (header(3, f_order=True, out_of_order=True, shape=[5, 7, 3]) +
                              slice_op([5, 7, 3], all_(), index(6), all_()) +
                              range_write([5, 3]) + nd_plain([5, 3], [5, 1]) +
                              host_copy(async_=True) + to_host())
    s["r3_slice_chain"] = (header(3, shape=[16, 16, 16]) +
                           slice_op([16, 16, 16], valid_slice(15, 0, -2), index(2), all_()) +
                           slice_op([8, 16], all_(), valid_slice(4, 12, 3)) +
                           slice_op([8, 3], index(1), all_()) + range_write([3]) + to_host())
    s["bad_slices"] = (header(2, shape=[10, 10]) +
                       slice_op([10, 10], raw_slice(0, 5, 0), all_()) +
                       slice_op([10, 10], raw_index(10), all_()) +
                       slice_op([10, 10], raw_index(-1), all_()) +
                       slice_op([10, 10], raw_slice(0, 11, 1), all_()) +
                       slice_op([10, 10], all_(), raw_slice(5, 2, 1)) +
                       slice_op([10, 10], all_(), raw_slice(2, 5, -1)) +
                       slice_op([10, 10], raw_slice(10, 10, -1), all_()) + range_write([0, 10]))
    s["bad_nd_ranges"] = (header(1, shape=[2048]) + nd_plain_raw([2048], [3]) +
                          nd_plain_raw([2048], [0]) + nd_plain_raw([2048], [2048]) +
                          nd_plain_raw([2048], [1024]) + to_host())
    s["bad_nd_ranges_3d"] = (header(3, shape=[12, 12, 12]) + nd_plain_raw([12, 12, 12], [6, 5, 4]) +
                             nd_plain_raw([12, 12, 12], [12, 12, 12]) +
                             nd_plain_raw([12, 12, 12], [4, 4, 4]))
    s["divergence"] = (header(2, shape=[8, 8]) + divergence([8, 8], [4, 4], 0, 0) +
                       divergence([8, 8], [4, 4], 1, 5) + divergence([8, 8], [2, 8], 2, 15) +
                       divergence([8, 8], [1, 1], 0, 0) + to_host())
    s["throwing_kernels"] = (header(1, shape=[300]) + throw([300], 7) + throw([300], 299, kind=1) +
                             throw([300], 0, kind=2, async_=True) + throw([300], 301, async_=True) +
                             to_host())
    s["misuse"] = (header(2, shape=[6, 6]) + misuse([6, 6], 0) + misuse([6, 6], 1, 3, [2, 3]) +
                   misuse([6, 6], 2, 0, [3, 3]) + misuse([6, 6], 3, 9) + misuse([6, 6], 4, 1) +
                   misuse([6, 6], 4, 8))
    s["empty_views"] = (header(2, shape=[0, 5]) + range_write([0, 5]) + nd_local([0, 5], [2, 5]) +
                        to_host() + reset() + to_host())
    s["empty_slice"] = (header(1, shape=[40]) + slice_op([40], valid_slice(7, 7, 2)) +
                        range_write([0]) + nd_plain([0], [2]) + host_copy() + to_host() + reset() +
                        slice_op([40], raw_slice(40, 40, -1)) + to_host() + reset() +
                        slice_op([40], raw_slice(-1, -1, -1)) + range_write([0]))
    s["full_copies"] = (header(3, full=True, shape=[4, 5, 6]) + host_copy(async_=True) +
                        slice_op([4, 5, 6], valid_slice(3, 0, -1), valid_slice(0, 5, 2), index(5)) +
                        host_copy() + to_host() + reset() + to_host())
    return s


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "launch")
    os.makedirs(out_dir, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(bytes(data))
    print(f"wrote {len(seeds())} seeds to {out_dir}")


if __name__ == "__main__":
    main()
