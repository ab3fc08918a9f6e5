#!/usr/bin/env python3
"""Helper of scripts/bench-table.

  bench_table.py generate DIR [--rows N] [--mb MB]   genome.fa (+ .fai), kunkle.txt and kunkle.txt.gz in DIR
  bench_table.py pandas TABLE [--top N]              pandas read_csv + nsmallest; prints seconds

The table has the Kunkle/IGAP layout of scripts/../shared/bench/seed_reenactment.py `table` (space-separated
`Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue`, alleles matching the genome and
oriented both ways, p = U^4 written as %.3e) but is generated with numpy, so that 11 M rows take seconds, not
the pyfaidx generator's hour.
"""
import argparse, gzip, os, shutil, subprocess, sys, time

import numpy as np


def generate(a):
    os.makedirs(a.dir, exist_ok=True)
    rng = np.random.default_rng(7)
    fa = os.path.join(a.dir, 'genome.fa')
    sizes = [int(a.mb * 1e6 * f) for f in (0.5, 0.3, 0.2)]
    seqs = []
    if not os.path.exists(fa + '.fai'):
        with open(fa + '.tmp', 'wb') as f, open(fa + '.fai.tmp', 'w') as fai:
            for i, n in enumerate(sizes, 1):
                name = f'chr{i}'
                f.write(f'>{name}\n'.encode())
                offset = f.tell()
                s = np.frombuffer(b'ACGT', dtype=np.uint8)[rng.integers(0, 4, n)]
                seqs.append(s)
                full = n - n % 60
                body = np.concatenate([s[:full].reshape(-1, 60), np.full((full // 60, 1), 10, np.uint8)], axis=1)
                f.write(body.tobytes())
                if n % 60:
                    f.write(s[full:].tobytes() + b'\n')
                fai.write(f'{name}\t{n}\t{offset}\t60\t61\n')
        os.replace(fa + '.fai.tmp', fa + '.fai')
        os.replace(fa + '.tmp', fa)
    else:
        import mmap
        with open(fa + '.fai') as fai, open(fa, 'rb') as f:
            m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            for line in fai:
                name, n, offset, _, _ = line.split('\t')
                n, offset = int(n), int(offset)
                raw = np.frombuffer(m[offset:offset + n + n // 60 + 1], dtype=np.uint8)
                seqs.append(raw[raw != 10][:n].copy())
    table = os.path.join(a.dir, 'kunkle.txt')
    if not os.path.exists(table):
        trng = np.random.default_rng(11)
        acgt = np.array(list('ACGT'))
        with open(table + '.tmp', 'w') as f:
            f.write('Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue\n')
            step = 1_000_000
            for start in range(0, a.rows, step):
                k = min(step, a.rows - start)
                c = trng.integers(0, len(sizes), k)
                pos = (trng.random(k) * np.array(sizes)[c]).astype(np.int64) + 1
                ref_code = np.empty(k, np.uint8)
                for ci, s in enumerate(seqs):
                    sel = c == ci
                    ref_code[sel] = s[pos[sel] - 1]
                ref_idx = np.searchsorted(np.frombuffer(b'ACGT', np.uint8), ref_code)
                alt_idx = (ref_idx + trng.integers(1, 4, k)) % 4
                flip = trng.random(k) < 0.5
                eff = np.where(flip, alt_idx, ref_idx)
                oth = np.where(flip, ref_idx, alt_idx)
                beta = trng.normal(0, 0.05, k)
                p = trng.random(k) ** 4
                rows = zip((c + 1).tolist(), pos.tolist(), range(start, start + k), acgt[eff].tolist(),
                           acgt[oth].tolist(), beta.tolist(), p.tolist())
                f.write(''.join(f'{ci} {ps} rs{i} {e} {o} {b:.4f} 0.02 {pv:.3e}\n' for ci, ps, i, e, o, b, pv in rows))
        os.replace(table + '.tmp', table)
    if not os.path.exists(table + '.gz'):
        with open(table + '.gz.tmp', 'wb') as out:
            subprocess.run(['gzip', '-c', '-6', table], stdout=out, check=True)
        os.replace(table + '.gz.tmp', table + '.gz')
    print(table)


def pandas(a):
    import pandas as pd
    t0 = time.perf_counter()
    df = pd.read_csv(a.table, sep=' ', engine='c')
    top = df.nsmallest(a.top, 'Pvalue')
    dt = time.perf_counter() - t0
    assert len(top) == min(a.top, len(df))
    print(f'{dt:.3f}')


def main():
    p = argparse.ArgumentParser()
    s = p.add_subparsers(dest='cmd', required=True)
    g = s.add_parser('generate'); g.add_argument('dir'); g.add_argument('--rows', type=int, default=11_000_000)
    g.add_argument('--mb', type=float, default=50)
    q = s.add_parser('pandas'); q.add_argument('table'); q.add_argument('--top', type=int, default=10_000)
    a = p.parse_args()
    {'generate': generate, 'pandas': pandas}[a.cmd](a)


if __name__ == '__main__':
    main()
