"""Compile the fast path's kernels for Hopper (sm_90) on a machine WITHOUT a GPU; report resources.

Needs only the `triton` package (its wheel ships `ptxas`). For each kernel setting it prints the
shared memory, the registers per thread, spill bytes and whether the tensor-core instruction is wgmma
(Hopper) or mma.sync: what to know before spending time on a GPU (docs/gpu.md).
Integer strides and pointers get the 16-divisibility hint the JIT gives them at run time; without
it the gathered loads are not vectorised and the numbers mislead.
Usage: python benchmarks/gpu_compile_check.py
"""

import os
import subprocess
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from dsa_core.fast.decode_triton import _combine_kernel
from dsa_core.fast.fused_topk_triton import _collect_kernel, _sample_max_kernel
from dsa_core.fast.indexer_triton import _index_scores_kernel
from dsa_core.fast.select_triton import _filter_kernel, _final_kernel, _threshold_kernel
from dsa_core.fast.sparse_attn_triton import _sparse_attn_kernel
from dsa_core.fast.topk_triton import _topk_kernel

PTXAS = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "ptxas")


def _sig(kernel, pointers, consts, floats=()):
    """Signature: named pointer types, fp32 for `floats`, i32 for every other runtime argument."""
    return {n: pointers.get(n, "fp32" if n in floats else "i32") for n in kernel.arg_names if n not in consts}


def compile_report(kernel, pointers, consts, floats=(), **opts):
    sig = _sig(kernel, pointers, consts, floats)
    names = list(kernel.arg_names)
    hinted = [n for n in sig if sig[n].startswith("*") or (n.startswith("s") and "_" in n)]
    src = ASTSource(
        fn=kernel,
        signature={**sig, **{k: "constexpr" for k in consts}},
        constexprs={(names.index(k),): v for k, v in consts.items()},
        attrs={(names.index(n),): [["tt.divisibility", 16]] for n in hinted},
    )
    k = triton.compile(src, target=GPUTarget("cuda", 90, 32), options=opts)
    with tempfile.NamedTemporaryFile("w", suffix=".ptx", delete=False) as f:
        f.write(k.asm["ptx"])
    info = subprocess.run(
        [PTXAS, "-v", "--gpu-name", "sm_90a", f.name, "-o", os.devnull], capture_output=True, text=True
    ).stderr
    os.unlink(f.name)
    regs = [
        ln.split("info    :")[-1].strip() for ln in info.splitlines() if "registers" in ln or "spill" in ln
    ]
    mma = "wgmma" if "wgmma" in k.asm["ptx"] else ("mma.sync" if "mma.sync" in k.asm["ptx"] else "no mma")
    print(f"{kernel.__name__:22s} {consts} {opts}\n    smem {k.metadata.shared} B, {mma}; {'; '.join(regs)}")


def main():
    bf, f32, i32 = "*bf16", "*fp32", "*i32"
    for fp8, bq, bn, w, h, d, g in [
        (False, 4, 64, 4, 64, 128, 0),
        (False, 4, 64, 4, 64, 128, 16),
        (True, 4, 64, 4, 64, 128, 16),
        (False, 32, 64, 4, 4, 64, 0),
    ]:
        dt = "*fp8e4nv" if fp8 else bf
        ptr = {n: f32 for n in ("w_ptr", "ks_ptr", "out_ptr", "gmax_ptr", "gmin_ptr", "mx_ptr")}
        ptr |= {"q_ptr": dt, "k_ptr": dt}
        consts = dict(H=h, D=d, BQ=bq, BN=bn, KPP=4096, FP8=fp8, MAXG=g)
        compile_report(_index_scores_kernel, ptr, consts, num_warps=w, num_stages=3)
    for bq, bn, w in [(32, 64, 4), (32, 128, 8), (64, 64, 4)]:
        ptr = {"q_ptr": bf, "k_ptr": bf, "w_ptr": f32, "mx_ptr": f32}
        consts = dict(H=4, D=64, BQ=bq, BN=bn, R=8, G=8)
        compile_report(_sample_max_kernel, ptr, consts, num_warps=w, num_stages=3)
        ptr = {"q_ptr": bf, "k_ptr": bf, "w_ptr": f32, "tau_ptr": f32, "cnt_ptr": i32, "ckey_ptr": i32}
        ptr["cpos_ptr"] = i32
        consts = dict(H=4, D=64, BQ=bq, BN=bn, KPP=4096, CAP=4096)
        compile_report(_collect_kernel, ptr, consts, num_warps=w, num_stages=3)
    for rb, w in [(2048, 4), (8192, 8)]:
        consts = dict(G=8, R=8, BN=64, BQ=32, RB=rb, BITS=16)
        compile_report(_threshold_kernel, {"mx_ptr": f32, "tau_ptr": f32}, consts, num_warps=w)
    ptr = {"x_ptr": f32, "tau_ptr": f32, "cnt_ptr": i32, "ckey_ptr": i32, "cpos_ptr": i32}
    compile_report(_filter_kernel, ptr, dict(CAP=8192, PER=4096, BLOCK=1024), num_warps=4)
    ptr = {"cnt_ptr": i32, "ckey_ptr": i32, "cpos_ptr": i32, "out_ptr": i32}
    for cb, w in [(2048, 4), (4096, 8), (8192, 8)]:
        compile_report(_final_kernel, ptr, dict(CB=cb, KB=1024), num_warps=w)
    ptr = {"x_ptr": f32, "gmax_ptr": f32, "gmin_ptr": f32, "out_ptr": i32, "cand_ptr": "*i64"}
    compile_report(_topk_kernel, ptr, dict(K=2048, KPP=4096, GB=32, NB=128, BLOCK=1024, CAP=512), num_warps=4)
    ptr = {"q_ptr": bf, "k_ptr": bf, "v_ptr": bf, "idx_ptr": i32, "o_ptr": bf, "po_ptr": f32, "pml_ptr": f32}
    for d1, d2, dv, bh, bn, vk, w, st, split in [
        (512, 64, 512, 64, 64, True, 8, 2, False),
        (512, 64, 512, 64, 32, True, 8, 2, False),
        (512, 64, 512, 64, 32, True, 8, 3, False),
        (512, 64, 512, 64, 64, True, 8, 2, True),
        (64, 0, 64, 16, 64, False, 4, 2, False),
    ]:
        consts = dict(D1=d1, D2=d2, DV=dv, BH=bh, BN=bn, V_IS_K=vk, TRUNC=True, SPLIT=split)
        compile_report(_sparse_attn_kernel, ptr, consts, floats=("scale_log2e",), num_warps=w, num_stages=st)
    compile_report(
        _combine_kernel, {"po_ptr": f32, "pml_ptr": f32, "o_ptr": bf}, dict(DV=512, NSB=4), num_warps=4
    )


if __name__ == "__main__":
    main()
