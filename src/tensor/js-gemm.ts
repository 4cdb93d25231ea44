/**
 * The TypeScript backend's GEMMs (twin of native/src/kernels_gemm.inc): C[M,N] (+)= A·B in the three layouts of
 * the Backend contract, float32 in and out, every dot product accumulated in float64 in ascending k and rounded
 * to float32 once when stored (after adding the old C, in float64, when accumulating).
 *
 * Structure (GotoBLAS-style, sized for what V8 makes of it):
 * - A block of rows of A and a block of columns of B are packed, once per block, into one reused workspace:
 *   A as panels of MR = 4 rows ([k][4] interleaved), B as panels of NR = 4 columns ([k][4]). Packing absorbs
 *   the layout (strides), so all three layouts share one micro-kernel, and the float32 → float64 conversion
 *   happens there once instead of in the inner loop.
 * - The micro-kernel keeps a 4×4 tile of C in sixteen local float64 accumulators and walks k over the two
 *   panels, reading 8 values per 32 flops.
 *
 * Why the workspace is a plain `number[]` and not a Float64Array: TurboFan re-checks a typed array's map and
 * reloads its length and data pointer on every loop iteration, and each element load costs a sign extension
 * and a pointer addition besides its bounds check. A packed array of doubles costs one compare and one load per
 * element, which made the inner loop a fifth shorter (96 instead of ~116 x64 instructions per k on Node 20).
 * Both panels live in the same array so the per-iteration checks are paid once. It is created holding doubles
 * and only ever receives doubles, so its elements kind never changes.
 *
 * Why 4×4: x64 V8 has 15 usable float registers and schedules all the products of an iteration before their
 * sums, so some accumulators live on the stack whatever the tile; 4×8 and 8×8 tiles spill more than they save
 * in loads (20–30% slower), 2×4, 3×3, 3×4 and 4×3 are no faster, and unrolling k only adds spills (measured
 * on Node 20, Zen 3).
 *
 * Few rows of A (decode, small attention blocks) skip packing: B would be packed to be read only once or twice,
 * which costs as much as the product. Those shapes stream B directly (gemvRows, gemmAxpy).
 */

/** Rows of A per panel and columns of B per panel (the register tile of the micro-kernel). */
const MR = 4;
const NR = 4;
/** Packed A block: at most this many doubles (512 KiB), so it stays in L2 while B panels cycle through L1. */
const PACK_A_DOUBLES = 1 << 16;
/** Packed B block: at most this many doubles (256 KiB). */
const PACK_B_DOUBLES = 1 << 15;
/** Below this many rows of A, packing B costs as much as the product itself: stream it instead. */
const GEMM_SMALL_M = 4;

/** The packing workspace, reused across calls (no allocation per call once it has grown); see the file comment. */
let workspace: number[] = [0.5];
/** Where a micro-kernel tile that overhangs C's edge is parked before its valid part is copied out. */
const edgeTile = new Float64Array(MR * NR);

function reserveWorkspace(n: number): number[] {
  const ws = workspace;
  // push keeps the array packed (no holes), so loads need no hole check; it only ever receives doubles.
  while (ws.length < n) ws.push(0.5);
  return ws;
}

/** C[M,N] (+)= A[M,K] · B[N,K]ᵀ. */
export function gemmABt(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate: boolean): void {
  if (M < GEMM_SMALL_M) return gemvRows(a, b, c, M, K, N, accumulate);
  gemmPacked(a, K, 1, b, 1, K, c, M, K, N, accumulate);
}

/** C[M,N] (+)= A[M,K] · B[K,N]. */
export function gemmAB(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate: boolean): void {
  if (M < GEMM_SMALL_M) return gemmAxpy(a, K, 1, b, c, M, K, N, accumulate);
  gemmPacked(a, K, 1, b, N, 1, c, M, K, N, accumulate);
}

/** C[M,N] (+)= A[K,M]ᵀ · B[K,N]. */
export function gemmAtB(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate: boolean): void {
  if (M < GEMM_SMALL_M) return gemmAxpy(a, 1, M, b, c, M, K, N, accumulate);
  gemmPacked(a, 1, M, b, N, 1, c, M, K, N, accumulate);
}

/**
 * C[M,N] (+)= Σ_k A(i,k)·B(k,j) with A(i,k) = a[i·rsA + k·csA], B(k,j) = b[k·rsB + j·csB] and C dense row-major.
 * Loop order: a block of rows of A is packed once; for each block of columns of B (packed once per A block),
 * each B panel stays in L1 while every A panel of the block passes over it.
 */
function gemmPacked(
  a: Float32Array, rsA: number, csA: number, b: Float32Array, rsB: number, csB: number,
  c: Float32Array, M: number, K: number, N: number, accumulate: boolean,
): void {
  if (M === 0 || N === 0) return;
  const kk = Math.max(K, 1);
  const mc = Math.min(roundUp(M, MR), Math.max(MR, Math.floor(PACK_A_DOUBLES / kk / MR) * MR));
  const nc = Math.min(roundUp(N, NR), Math.max(NR, Math.floor(PACK_B_DOUBLES / kk / NR) * NR));
  const bBase = mc * K;
  const ws = reserveWorkspace(bBase + nc * K);
  const mode = accumulate ? 1 : 0;
  for (let i0 = 0; i0 < M; i0 += mc) {
    const mb = Math.min(mc, M - i0);
    packPanels(ws, 0, a, rsA, csA, i0, mb, K, MR);
    for (let j0 = 0; j0 < N; j0 += nc) {
      const nb = Math.min(nc, N - j0);
      // B(k, j) = b[k·rsB + j·csB] is the transpose of a "rows" layout with row stride csB, column stride rsB.
      packPanels(ws, bBase, b, csB, rsB, j0, nb, K, NR);
      for (let jr = 0; jr < nb; jr += NR) {
        const pb = bBase + jr * K, cols = Math.min(NR, nb - jr);
        for (let ir = 0; ir < mb; ir += MR) {
          const rows = Math.min(MR, mb - ir), o = (i0 + ir) * N + j0 + jr;
          if (rows === MR && cols === NR) {
            microKernel4x4(ws, ir * K, pb, K, c, o, N, mode);
          } else {
            microKernel4x4(ws, ir * K, pb, K, c, 0, 0, 2);
            storeEdge(c, o, N, rows, cols, accumulate);
          }
        }
      }
    }
  }
}

/**
 * Packs rows r0 .. r0+n of X (X(r,k) = x[r·rs + k·cs]) into panels of `width` rows at ws[base ..]: panel p holds
 * rows r0 + p·width .., element (r, k) at base + p·width·K + k·width + (r mod width). Rows past n are zeros, so
 * the micro-kernel can always run a full tile (the overhang is discarded by storeEdge).
 */
function packPanels(ws: number[], base: number, x: Float32Array, rs: number, cs: number, r0: number, n: number, K: number, width: number): void {
  for (let p = 0; p < n; p += width) {
    const rows = Math.min(width, n - p);
    let d = base + p * K;
    if (rows === 4 && width === 4) {
      let s = (r0 + p) * rs;
      for (let k = 0; k < K; k++) {
        ws[d] = x[s]!; ws[d + 1] = x[s + rs]!; ws[d + 2] = x[s + 2 * rs]!; ws[d + 3] = x[s + 3 * rs]!;
        d += 4; s += cs;
      }
    } else {
      for (let k = 0; k < K; k++) {
        for (let r = 0; r < width; r++) ws[d + r] = r < rows ? x[(r0 + p + r) * rs + k * cs]! : 0;
        d += width;
      }
    }
  }
}

/**
 * One 4×4 tile of C from an A panel at ws[pa ..] and a B panel at ws[pb ..] (both [k][4]). mode 0 stores into
 * c (row stride ldc), 1 adds to c (in float64, one rounding), 2 parks the sums in edgeTile.
 * Index arithmetic is `| 0` so TurboFan keeps it in 32-bit registers without overflow checks.
 */
function microKernel4x4(ws: number[], pa: number, pb: number, K: number, c: Float32Array, o: number, ldc: number, mode: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let k = 0; k < K; k = (k + 1) | 0) {
    const y0 = ws[pb]!, y1 = ws[(pb + 1) | 0]!, y2 = ws[(pb + 2) | 0]!, y3 = ws[(pb + 3) | 0]!;
    let x = ws[pa]!;
    c00 += x * y0; c01 += x * y1; c02 += x * y2; c03 += x * y3;
    x = ws[(pa + 1) | 0]!;
    c10 += x * y0; c11 += x * y1; c12 += x * y2; c13 += x * y3;
    x = ws[(pa + 2) | 0]!;
    c20 += x * y0; c21 += x * y1; c22 += x * y2; c23 += x * y3;
    x = ws[(pa + 3) | 0]!;
    c30 += x * y0; c31 += x * y1; c32 += x * y2; c33 += x * y3;
    pa = (pa + 4) | 0; pb = (pb + 4) | 0;
  }
  if (mode === 2) {
    const t = edgeTile;
    t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
    t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23; t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
    return;
  }
  const acc = mode === 1;
  store4(c, o, c00, c01, c02, c03, acc); o += ldc;
  store4(c, o, c10, c11, c12, c13, acc); o += ldc;
  store4(c, o, c20, c21, c22, c23, acc); o += ldc;
  store4(c, o, c30, c31, c32, c33, acc);
}

/** Copies the valid rows × cols corner of edgeTile into C at o (row stride ldc). */
function storeEdge(c: Float32Array, o: number, ldc: number, rows: number, cols: number, accumulate: boolean): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) store1(c, o + r * ldc + j, edgeTile[r * NR + j]!, accumulate);
  }
}

/**
 * C (+)= A·Bᵀ for few rows of A (A[M,K], B[N,K] both K-contiguous): each row of A against four rows of B at a
 * time, a streaming GEMV that reads B once per row of A.
 */
function gemvRows(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate: boolean): void {
  const N4 = N - (N % 4);
  for (let i = 0; i < M; i++) {
    const ao = i * K;
    let j = 0;
    for (; j < N4; j += 4) {
      const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const x = a[ao + k]!;
        s0 += x * b[b0 + k]!; s1 += x * b[b1 + k]!; s2 += x * b[b2 + k]!; s3 += x * b[b3 + k]!;
      }
      store4(c, i * N + j, s0, s1, s2, s3, accumulate);
    }
    for (; j < N; j++) {
      const bo = j * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ao + k]! * b[bo + k]!;
      store1(c, i * N + j, s, accumulate);
    }
  }
}

/**
 * C[M,N] (+)= A·B with B[K,N] row-major and A(i,k) = a[i·rsA + k·csA], for few rows of A: each row of C is a
 * float64 accumulator that B's rows are added into, so B streams through once per row without a transpose.
 */
function gemmAxpy(a: Float32Array, rsA: number, csA: number, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate: boolean): void {
  const acc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    const co = i * N;
    if (accumulate) for (let j = 0; j < N; j++) acc[j] = c[co + j]!;
    else acc.fill(0);
    // Four rows of B per pass, so each accumulator is loaded and stored once per four products.
    const K4 = K - (K % 4);
    let k = 0;
    for (; k < K4; k += 4) {
      const ak = i * rsA + k * csA;
      const x0 = a[ak]!, x1 = a[ak + csA]!, x2 = a[ak + 2 * csA]!, x3 = a[ak + 3 * csA]!;
      const b0 = k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
      for (let j = 0; j < N; j++) acc[j] += x0 * b[b0 + j]! + x1 * b[b1 + j]! + x2 * b[b2 + j]! + x3 * b[b3 + j]!;
    }
    for (; k < K; k++) {
      const x = a[i * rsA + k * csA]!, bo = k * N;
      for (let j = 0; j < N; j++) acc[j] += x * b[bo + j]!;
    }
    for (let j = 0; j < N; j++) c[co + j] = acc[j]!;
  }
}

function store4(c: Float32Array, o: number, s0: number, s1: number, s2: number, s3: number, accumulate: boolean): void {
  if (accumulate) { s0 += c[o]!; s1 += c[o + 1]!; s2 += c[o + 2]!; s3 += c[o + 3]!; }
  c[o] = s0; c[o + 1] = s1; c[o + 2] = s2; c[o + 3] = s3;
}

function store1(c: Float32Array, o: number, s: number, accumulate: boolean): void {
  c[o] = accumulate ? c[o]! + s : s;
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}
