/* Fused CPU tensor product for a spherical-harmonics-like second operand (every term of in2 has mul 1).
 *
 * Compiled at first use by e3lab._native (once per machine and precision: -DREAL=float or double) and
 * called through ctypes with the GIL released; tp_run (at the end) runs disjoint row ranges on OpenMP threads.
 * Everything a path needs is recomputed per row from x, y and the weights: nothing of size [rows, ...] is
 * written besides the outputs and the requested gradients, which is where the speed comes from.
 *
 * Layouts (row-major, one row per sample; e3nn's "mul_ir" order inside a term):
 *   x      [rows, dim1]   term t occupies [off_t, off_t + mul_t * d_t), element (u, i) at off_t + u d_t + i
 *   y      [rows, dim2]   term j of in2 at y_off, dimension d2 (mul 1)
 *   weight [rows, numel]  per-sample; path blocks row-major: uvw [u, w], uvu [u]
 *   out    [rows, dim_out]
 * Optionally the weights are not given but computed per row as hidden[row] @ mlp (hidden [rows, H],
 * mlp [H, numel]): the last layer of a radial MLP fused into the product.
 * Optionally (message passing) x is a node array read at src[row] and the result is summed into a node array
 * at dst[row] (out [nodes, dim_out], zeroed by the caller): the gathered inputs and the per-row outputs
 * never exist. Backward then reads grad_out at dst[row] and sums grad_x into src[row] (zeroed by the caller).
 * Pointers of row arrays point at the first row of the call; node arrays at node 0, index arrays at the
 * first row of the call.
 *
 * Tables (int64): terms [n_terms, 3] = (offset, mul, dim) of in1;
 *   paths [n_paths, 10] = (term, y_off, d2, o_off, mul_out, d3, w_off, mode, cg_start, cg_count),
 *   mode 0 = uvw, 1 = uvu; the Clebsch-Gordan block of a path is a list of non-zeros (j, i, k) in cg_idx
 *   (int32 triples) with values cg_val, the path normalisation folded in.
 * meta = (n_terms, n_paths, dim1, dim2, dim_out, numel, max_mul, max_d).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef REAL
#define REAL float
#endif
typedef REAL real;

enum { F_TERM, F_YOFF, F_D2, F_OOFF, F_MULOUT, F_D3, F_WOFF, F_MODE, F_CGSTART, F_CGCOUNT, N_FIELDS };
enum { M_NTERMS, M_NPATHS, M_DIM1, M_DIM2, M_DIMOUT, M_NUMEL, M_MAXMUL, M_MAXD };

typedef struct {
    real *xt;   /* [dim1]: x row with every term transposed to [d, mul] */
    real *gxt;  /* [dim1]: gradient of xt */
    real *y_cg; /* [max_d * max_d]: Y[i, k] = sum_j y_j C[j, i, k] */
    real *g_cg; /* [max_d * max_d]: gradient of Y */
    real *t;    /* [max_d * max_mul]: T[k, u] = sum_i Y[i, k] xt[i, u] */
    real *g;    /* [max_d * max_mul]: output gradient block transposed to [k, w] */
    real *gt;   /* [max_d * max_mul]: gradient of T */
    real *acc;  /* [max_d * max_mul]: uvw output block [k, w] */
    real *w;    /* [numel]: fused weights of the row */
    real *gw;   /* [numel]: their gradient */
    real *row;  /* [max(dim1, dim_out)]: a row before it is summed into a node */
} scratch_t;

static void scratch_free(scratch_t *s) {
    free(s->xt); free(s->gxt); free(s->y_cg); free(s->g_cg); free(s->t);
    free(s->g); free(s->gt); free(s->acc); free(s->w); free(s->gw); free(s->row);
}

static int scratch_alloc(scratch_t *s, const int64_t *meta) {
    int64_t dim1 = meta[M_DIM1] > 0 ? meta[M_DIM1] : 1, numel = meta[M_NUMEL] > 0 ? meta[M_NUMEL] : 1;
    int64_t dd = meta[M_MAXD] * meta[M_MAXD], dm = meta[M_MAXD] * meta[M_MAXMUL];
    s->xt = malloc(sizeof(real) * dim1); s->gxt = malloc(sizeof(real) * dim1);
    s->y_cg = malloc(sizeof(real) * dd); s->g_cg = malloc(sizeof(real) * dd);
    s->t = malloc(sizeof(real) * dm); s->g = malloc(sizeof(real) * dm);
    s->gt = malloc(sizeof(real) * dm); s->acc = malloc(sizeof(real) * dm);
    s->w = malloc(sizeof(real) * numel); s->gw = malloc(sizeof(real) * numel);
    s->row = malloc(sizeof(real) * (dim1 > meta[M_DIMOUT] ? dim1 : meta[M_DIMOUT] + 1));
    if (!s->row || !s->xt || !s->gxt || !s->y_cg || !s->g_cg || !s->t || !s->g || !s->gt || !s->acc || !s->w || !s->gw) {
        scratch_free(s);
        return 1;
    }
    return 0;
}

/* out[n] = sum_h hidden[h] mlp[h, n]: blocks of 64 outputs stay in registers over h. */
/* row r of an array: base[index[r]] when indexed (node arrays), else base[r] */
static inline int64_t row_index(const int64_t *index, int64_t r) { return index ? index[r] : r; }

static void add_row(const real *src, int64_t count, real *dst) {
    for (int64_t c = 0; c < count; c++) dst[c] += src[c];
}

static void fused_weights(const real *hidden, const real *mlp, int64_t n_hidden, int64_t numel, real *out) {
    int64_t n0 = 0;
    for (; n0 + 64 <= numel; n0 += 64) {
        real acc[64] = {0};
        for (int64_t h = 0; h < n_hidden; h++) {
            const real a = hidden[h], *row = mlp + h * numel + n0;
            for (int j = 0; j < 64; j++) acc[j] += a * row[j];
        }
        memcpy(out + n0, acc, sizeof(acc));
    }
    for (int64_t n = n0; n < numel; n++) {
        real a = 0;
        for (int64_t h = 0; h < n_hidden; h++) a += hidden[h] * mlp[h * numel + n];
        out[n] = a;
    }
}

static void transpose_terms(const int64_t *meta, const int64_t *terms, const real *row, real *xt) {
    for (int64_t t = 0; t < meta[M_NTERMS]; t++) {
        const int64_t off = terms[3 * t], mul = terms[3 * t + 1], d = terms[3 * t + 2];
        for (int64_t u = 0; u < mul; u++)
            for (int64_t i = 0; i < d; i++) xt[off + i * mul + u] = row[off + u * d + i];
    }
}

static void untranspose_terms(const int64_t *meta, const int64_t *terms, const real *xt, real *row) {
    for (int64_t t = 0; t < meta[M_NTERMS]; t++) {
        const int64_t off = terms[3 * t], mul = terms[3 * t + 1], d = terms[3 * t + 2];
        for (int64_t u = 0; u < mul; u++)
            for (int64_t i = 0; i < d; i++) row[off + u * d + i] = xt[off + i * mul + u];
    }
}

/* Y[i, k] of a path from the y row. */
static void contract_y(const int64_t *p, const int32_t *cg_idx, const real *cg_val, const real *yrow,
                       int64_t d1, real *y_cg) {
    const int64_t d3 = p[F_D3];
    memset(y_cg, 0, sizeof(real) * d1 * d3);
    for (int64_t n = p[F_CGSTART]; n < p[F_CGSTART] + p[F_CGCOUNT]; n++) {
        const int32_t *jik = cg_idx + 3 * n;
        y_cg[jik[1] * d3 + jik[2]] += cg_val[n] * yrow[p[F_YOFF] + jik[0]];
    }
}

/* T[k, u] = sum_i Y[i, k] xt[i, u]. */
static void contract_x(const real *y_cg, const real *xt, int64_t mul, int64_t d1, int64_t d3, real *t) {
    for (int64_t k = 0; k < d3; k++) {
        real *tk = t + k * mul;
        memset(tk, 0, sizeof(real) * mul);
        for (int64_t i = 0; i < d1; i++) {
            const real a = y_cg[i * d3 + k];
            if (a == 0) continue;
            const real *xi = xt + i * mul;
            for (int64_t u = 0; u < mul; u++) tk[u] += a * xi[u];
        }
    }
}

static void forward_row(const int64_t *meta, const int64_t *terms, const int64_t *paths,
                        const int32_t *cg_idx, const real *cg_val, const real *xrow, const real *yrow,
                        const real *wrow, real *orow, scratch_t *s) {
    transpose_terms(meta, terms, xrow, s->xt);
    memset(orow, 0, sizeof(real) * meta[M_DIMOUT]);
    for (int64_t q = 0; q < meta[M_NPATHS]; q++) {
        const int64_t *p = paths + q * N_FIELDS, *term = terms + 3 * p[F_TERM];
        const int64_t xoff = term[0], mul = term[1], d1 = term[2], d3 = p[F_D3], mo = p[F_MULOUT];
        real *out = orow + p[F_OOFF];
        const real *w = wrow + p[F_WOFF];
        contract_y(p, cg_idx, cg_val, yrow, d1, s->y_cg);
        contract_x(s->y_cg, s->xt + xoff, mul, d1, d3, s->t);
        if (p[F_MODE] == 1) { /* uvu: out[u, k] += w[u] T[k, u] */
            for (int64_t u = 0; u < mul; u++)
                for (int64_t k = 0; k < d3; k++) out[u * d3 + k] += w[u] * s->t[k * mul + u];
            continue;
        }
        /* uvw: acc[k, w] = sum_u T[k, u] W[u, w] */
        memset(s->acc, 0, sizeof(real) * d3 * mo);
        for (int64_t u = 0; u < mul; u++) {
            const real *wu = w + u * mo;
            for (int64_t k = 0; k < d3; k++) {
                const real a = s->t[k * mul + u];
                real *acc = s->acc + k * mo;
                for (int64_t v = 0; v < mo; v++) acc[v] += a * wu[v];
            }
        }
        for (int64_t v = 0; v < mo; v++)
            for (int64_t k = 0; k < d3; k++) out[v * d3 + k] += s->acc[k * mo + v];
    }
}

int tp_forward(int64_t rows, const int64_t *meta, const int64_t *terms, const int64_t *paths,
               const int32_t *cg_idx, const real *cg_val, const real *x, const real *y, const real *weight,
               const real *hidden, const real *mlp, int64_t n_hidden, real *out, const int64_t *src,
               const int64_t *dst) {
    scratch_t s;
    if (scratch_alloc(&s, meta)) return 1;
    const int64_t dim1 = meta[M_DIM1], dim2 = meta[M_DIM2], dim_out = meta[M_DIMOUT], numel = meta[M_NUMEL];
    for (int64_t r = 0; r < rows; r++) {
        const real *wrow = weight + r * numel;
        if (hidden) {
            fused_weights(hidden + r * n_hidden, mlp, n_hidden, numel, s.w);
            wrow = s.w;
        }
        real *orow = dst ? s.row : out + r * dim_out;
        forward_row(meta, terms, paths, cg_idx, cg_val, x + row_index(src, r) * dim1, y + r * dim2, wrow, orow,
                    &s);
        if (dst) add_row(orow, dim_out, out + dst[r] * dim_out);
    }
    scratch_free(&s);
    return 0;
}

/* Gradients of one row. gx/gy/gw may be NULL (not wanted); gw is always given when weights are fused. */
static void backward_row(const int64_t *meta, const int64_t *terms, const int64_t *paths,
                         const int32_t *cg_idx, const real *cg_val, const real *xrow, const real *yrow,
                         const real *wrow, const real *grow, real *gx, real *gy, real *gw, scratch_t *s) {
    transpose_terms(meta, terms, xrow, s->xt);
    if (gx) memset(s->gxt, 0, sizeof(real) * meta[M_DIM1]);
    if (gy) memset(gy, 0, sizeof(real) * meta[M_DIM2]);
    if (gw) memset(gw, 0, sizeof(real) * meta[M_NUMEL]);
    for (int64_t q = 0; q < meta[M_NPATHS]; q++) {
        const int64_t *p = paths + q * N_FIELDS, *term = terms + 3 * p[F_TERM];
        const int64_t xoff = term[0], mul = term[1], d1 = term[2], d3 = p[F_D3], mo = p[F_MULOUT];
        const real *w = wrow + p[F_WOFF], *g_out = grow + p[F_OOFF];
        real *gt = s->gt, *g = s->g;
        contract_y(p, cg_idx, cg_val, yrow, d1, s->y_cg);
        if (gw) contract_x(s->y_cg, s->xt + xoff, mul, d1, d3, s->t);
        for (int64_t v = 0; v < mo; v++)
            for (int64_t k = 0; k < d3; k++) g[k * mo + v] = g_out[v * d3 + k];
        if (p[F_MODE] == 1) { /* uvu */
            for (int64_t k = 0; k < d3; k++) {
                const real *gk = g + k * mul, *tk = s->t + k * mul;
                real *gtk = gt + k * mul, *gwp = gw ? gw + p[F_WOFF] : NULL;
                for (int64_t u = 0; u < mul; u++) gtk[u] = w[u] * gk[u];
                if (gwp)
                    for (int64_t u = 0; u < mul; u++) gwp[u] += gk[u] * tk[u];
            }
        } else { /* uvw */
            for (int64_t u = 0; u < mul; u++) {
                const real *wu = w + u * mo;
                real *gwu = gw ? gw + p[F_WOFF] + u * mo : NULL;
                for (int64_t k = 0; k < d3; k++) {
                    const real *gk = g + k * mo;
                    real dot = 0;
#pragma omp simd reduction(+ : dot)
                    for (int64_t v = 0; v < mo; v++) dot += wu[v] * gk[v];
                    gt[k * mul + u] = dot;
                    if (gwu) {
                        const real a = s->t[k * mul + u];
                        for (int64_t v = 0; v < mo; v++) gwu[v] += a * gk[v];
                    }
                }
            }
        }
        if (gx) { /* gxt[i, u] += sum_k Y[i, k] gt[k, u] */
            for (int64_t i = 0; i < d1; i++) {
                real *gxi = s->gxt + xoff + i * mul;
                for (int64_t k = 0; k < d3; k++) {
                    const real a = s->y_cg[i * d3 + k];
                    if (a == 0) continue;
                    const real *gtk = gt + k * mul;
                    for (int64_t u = 0; u < mul; u++) gxi[u] += a * gtk[u];
                }
            }
        }
        if (gy) { /* gY[i, k] = sum_u xt[i, u] gt[k, u], then through the Clebsch-Gordan non-zeros */
            for (int64_t i = 0; i < d1; i++) {
                const real *xi = s->xt + xoff + i * mul;
                for (int64_t k = 0; k < d3; k++) {
                    const real *gtk = gt + k * mul;
                    real dot = 0;
#pragma omp simd reduction(+ : dot)
                    for (int64_t u = 0; u < mul; u++) dot += xi[u] * gtk[u];
                    s->g_cg[i * d3 + k] = dot;
                }
            }
            for (int64_t n = p[F_CGSTART]; n < p[F_CGSTART] + p[F_CGCOUNT]; n++) {
                const int32_t *jik = cg_idx + 3 * n;
                gy[p[F_YOFF] + jik[0]] += cg_val[n] * s->g_cg[jik[1] * d3 + jik[2]];
            }
        }
    }
    if (gx) untranspose_terms(meta, terms, s->gxt, gx);
}

/* grad_mlp is accumulated into (+=): the caller zeroes it (one buffer per concurrent call). */
int tp_backward(int64_t rows, const int64_t *meta, const int64_t *terms, const int64_t *paths,
                const int32_t *cg_idx, const real *cg_val, const real *x, const real *y, const real *weight,
                const real *hidden, const real *mlp, int64_t n_hidden, const real *grad_out, real *grad_x,
                real *grad_y, real *grad_weight, real *grad_hidden, real *grad_mlp, const int64_t *src,
                const int64_t *dst) {
    scratch_t s;
    if (scratch_alloc(&s, meta)) return 1;
    const int64_t dim1 = meta[M_DIM1], dim2 = meta[M_DIM2], dim_out = meta[M_DIMOUT], numel = meta[M_NUMEL];
    for (int64_t r = 0; r < rows; r++) {
        const real *wrow = weight ? weight + r * numel : NULL;
        real *gw = grad_weight ? grad_weight + r * numel : NULL;
        if (hidden) {
            fused_weights(hidden + r * n_hidden, mlp, n_hidden, numel, s.w);
            wrow = s.w;
            gw = (grad_hidden || grad_mlp) ? s.gw : NULL;
        }
        real *gx = grad_x ? (src ? s.row : grad_x + r * dim1) : NULL;
        backward_row(meta, terms, paths, cg_idx, cg_val, x + row_index(src, r) * dim1, y + r * dim2, wrow,
                     grad_out + row_index(dst, r) * dim_out, gx, grad_y ? grad_y + r * dim2 : NULL, gw, &s);
        if (grad_x && src) add_row(gx, dim1, grad_x + src[r] * dim1);
        if (!hidden || !gw) continue;
        const real *h = hidden + r * n_hidden;
        for (int64_t k = 0; k < n_hidden; k++) {
            const real *row = mlp + k * numel;
            if (grad_hidden) {
                real dot = 0;
#pragma omp simd reduction(+ : dot)
                for (int64_t n = 0; n < numel; n++) dot += s.gw[n] * row[n];
                grad_hidden[r * n_hidden + k] = dot;
            }
            if (grad_mlp) {
                const real a = h[k];
                real *grow = grad_mlp + k * numel;
                for (int64_t n = 0; n < numel; n++) grow[n] += a * s.gw[n];
            }
        }
    }
    scratch_free(&s);
    return 0;
}

/* ---- Lane kernels: LANES rows at once, one row per SIMD lane ------------------------------------------
 * The same algorithm with every scalar of a row replaced by a vector over LANES rows ([count][LANES]
 * blocks in scratch). No loop is shorter than LANES, so small multiplicities (10x0e, ...) vectorise fully and
 * nothing needs a horizontal reduction. Rows are transposed into and out of the blocks once per call site.
 */
#define LANES 16
#define LANE_LOOP _Pragma("omp simd") for (int l = 0; l < LANES; l++)

typedef struct {
    real *x, *y, *w, *h, *out, *g, *gx, *gy, *gw, *y_cg, *g_cg, *t, *gt, *gm_t, *hpad, *gh;
    int64_t n_pad; /* hidden size rounded up to a multiple of LANES */
    /* fused weights (mlp != NULL): each path's block of w = h @ mlp is made just before the path uses it */
    const real *mlp;
    int64_t n_hidden, numel;
} lanes_t;

static void lanes_free(lanes_t *s) {
    free(s->x); free(s->y); free(s->w); free(s->h); free(s->out); free(s->g); free(s->gx); free(s->gy);
    free(s->gw); free(s->y_cg); free(s->g_cg); free(s->t); free(s->gt); free(s->gm_t); free(s->hpad); free(s->gh);
}

static real *lane_alloc(int64_t count) {
    return aligned_alloc(64, sizeof(real) * LANES * (count > 0 ? count : 1));
}

static int lanes_alloc(lanes_t *s, const int64_t *meta, int64_t n_hidden) {
    const int64_t dd = meta[M_MAXD] * meta[M_MAXD], dm = meta[M_MAXD] * meta[M_MAXMUL];
    s->x = lane_alloc(meta[M_DIM1]); s->gx = lane_alloc(meta[M_DIM1]);
    s->y = lane_alloc(meta[M_DIM2]); s->gy = lane_alloc(meta[M_DIM2]);
    s->w = lane_alloc(meta[M_NUMEL]); s->gw = lane_alloc(meta[M_NUMEL]);
    s->out = lane_alloc(meta[M_DIMOUT]); s->g = lane_alloc(meta[M_DIMOUT]);
    s->y_cg = lane_alloc(dd); s->g_cg = lane_alloc(dd); s->t = lane_alloc(dm); s->gt = lane_alloc(dm);
    s->h = lane_alloc(n_hidden);
    /* [numel, n_pad] accumulator of the fused matrix's gradient, and the padded hidden rows [LANES, n_pad] */
    s->n_pad = (n_hidden + LANES - 1) / LANES * LANES;
    s->gm_t = aligned_alloc(64, sizeof(real) * (s->n_pad > 0 ? s->n_pad : LANES) * (meta[M_NUMEL] > 0 ? meta[M_NUMEL] : 1));
    s->hpad = lane_alloc(s->n_pad);
    s->gh = lane_alloc(n_hidden);
    s->mlp = NULL;
    s->n_hidden = n_hidden, s->numel = meta[M_NUMEL];
    if (s->gm_t) memset(s->gm_t, 0, sizeof(real) * (s->n_pad > 0 ? s->n_pad : LANES) * (meta[M_NUMEL] > 0 ? meta[M_NUMEL] : 1));
    if (!s->gh || !s->hpad || !s->x || !s->gx || !s->y || !s->gy || !s->w || !s->gw || !s->out || !s->g || !s->y_cg || !s->g_cg ||
        !s->t || !s->gt || !s->h || !s->gm_t) {
        lanes_free(s);
        return 1;
    }
    return 0;
}

/* rows r0 .. r0 + n of [*, count] (indexed: base[index[r]]) -> block [count][LANES], lanes >= n zero */
static void lanes_load(const real *base, const int64_t *index, int64_t r0, int64_t count, int64_t n,
                       real *block) {
    if (n < LANES) memset(block, 0, sizeof(real) * LANES * count);
    for (int64_t l = 0; l < n; l++) {
        const real *row = base + row_index(index, r0 + l) * count;
        for (int64_t c = 0; c < count; c++) block[c * LANES + l] = row[c];
    }
}

/* block -> rows r0 .. r0 + n; indexed rows are summed into (several lanes may share a node) */
static void lanes_store(const real *block, int64_t count, int64_t n, real *base, const int64_t *index,
                        int64_t r0) {
    for (int64_t l = 0; l < n; l++) {
        real *row = base + row_index(index, r0 + l) * count;
        if (index)
            for (int64_t c = 0; c < count; c++) row[c] += block[c * LANES + l];
        else
            for (int64_t c = 0; c < count; c++) row[c] = block[c * LANES + l];
    }
}

/* Blocks of BLOCK independent accumulators: enough chains to keep the FMA units busy and few enough to stay
 * in registers. */
#define BLOCK 8

/* w[n][:] = sum_k mlp[k, n] h[k][:], BLOCK weights per pass over the hidden block */
static void lanes_fused_weights(const real *restrict hb, const real *restrict mlp, int64_t n_hidden,
                                int64_t stride, int64_t numel, real *restrict wb) {
    int64_t n = 0;
    for (; n + BLOCK <= numel; n += BLOCK) {
        real acc[BLOCK][LANES] = {{0}};
        for (int64_t k = 0; k < n_hidden; k++) {
            const real *m = mlp + k * stride + n, *hk = hb + k * LANES;
            for (int b = 0; b < BLOCK; b++) {
                const real a = m[b];
                LANE_LOOP acc[b][l] += a * hk[l];
            }
        }
        memcpy(wb + n * LANES, acc, sizeof(acc));
    }
    for (; n < numel; n++) {
        real acc[LANES] = {0};
        for (int64_t k = 0; k < n_hidden; k++) {
            const real a = mlp[k * stride + n], *hk = hb + k * LANES;
            LANE_LOOP acc[l] += a * hk[l];
        }
        memcpy(wb + n * LANES, acc, sizeof(acc));
    }
}

/* gh[k][:] += sum_n mlp[k, n] gw[n][:], BLOCK hidden units per pass over the weight gradient */
static void lanes_hidden_grad(const real *restrict gw, const real *restrict mlp, int64_t n_hidden,
                              int64_t stride, int64_t numel, real *restrict gh) {
    int64_t k = 0;
    for (; k + BLOCK <= n_hidden; k += BLOCK) {
        real acc[BLOCK][LANES];
        memcpy(acc, gh + k * LANES, sizeof(acc));
        const real *m = mlp + k * stride;
        for (int64_t n = 0; n < numel; n++) {
            const real *g = gw + n * LANES;
            for (int b = 0; b < BLOCK; b++) {
                const real a = m[b * stride + n];
                LANE_LOOP acc[b][l] += a * g[l];
            }
        }
        memcpy(gh + k * LANES, acc, sizeof(acc));
    }
    for (; k < n_hidden; k++) {
        real acc[LANES];
        memcpy(acc, gh + k * LANES, sizeof(acc));
        const real *m = mlp + k * stride;
        for (int64_t n = 0; n < numel; n++) {
            const real a = m[n], *g = gw + n * LANES;
            LANE_LOOP acc[l] += a * g[l];
        }
        memcpy(gh + k * LANES, acc, sizeof(acc));
    }
}

/* gm_t[n][:] += sum_l gw[n][l] hpad[l][:] with hpad the block's hidden rows padded to n_pad (a multiple of
 * LANES) columns. Four weights at a time: four independent accumulator chains keep the FMA units busy (one
 * chain would wait for each FMA's latency). */
static void lanes_matrix_grad(const real *restrict gw, const real *restrict hpad, int64_t n_pad,
                              int64_t numel, int64_t rows, real *restrict gm_t) {
    int64_t n = 0;
    for (; n + 4 <= numel; n += 4)
        for (int64_t k0 = 0; k0 < n_pad; k0 += LANES) {
            real a0[LANES] = {0}, a1[LANES] = {0}, a2[LANES] = {0}, a3[LANES] = {0};
            const real *g = gw + n * LANES;
            for (int64_t l = 0; l < rows; l++) {
                const real *h = hpad + l * n_pad + k0;
                const real g0 = g[l], g1 = g[LANES + l], g2 = g[2 * LANES + l], g3 = g[3 * LANES + l];
                _Pragma("omp simd") for (int c = 0; c < LANES; c++) {
                    a0[c] += g0 * h[c];
                    a1[c] += g1 * h[c];
                    a2[c] += g2 * h[c];
                    a3[c] += g3 * h[c];
                }
            }
            real *dst = gm_t + n * n_pad + k0;
            _Pragma("omp simd") for (int c = 0; c < LANES; c++) {
                dst[c] += a0[c];
                dst[n_pad + c] += a1[c];
                dst[2 * n_pad + c] += a2[c];
                dst[3 * n_pad + c] += a3[c];
            }
        }
    for (; n < numel; n++)
        for (int64_t k0 = 0; k0 < n_pad; k0 += LANES) {
            real acc[LANES] = {0};
            for (int64_t l = 0; l < rows; l++) {
                const real a = gw[n * LANES + l], *h = hpad + l * n_pad + k0;
                _Pragma("omp simd") for (int c = 0; c < LANES; c++) acc[c] += a * h[c];
            }
            real *dst = gm_t + n * n_pad + k0;
            _Pragma("omp simd") for (int c = 0; c < LANES; c++) dst[c] += acc[c];
        }
}

static void lanes_contract_y(const int64_t *p, const int32_t *cg_idx, const real *cg_val, const real *yb,
                             int64_t d1, real *y_cg) {
    const int64_t d3 = p[F_D3];
    memset(y_cg, 0, sizeof(real) * LANES * d1 * d3);
    for (int64_t n = p[F_CGSTART]; n < p[F_CGSTART] + p[F_CGCOUNT]; n++) {
        const int32_t *jik = cg_idx + 3 * n;
        const real c = cg_val[n], *yj = yb + (p[F_YOFF] + jik[0]) * LANES;
        real *dst = y_cg + (jik[1] * d3 + jik[2]) * LANES;
        LANE_LOOP dst[l] += c * yj[l];
    }
}

/* T[k, u][:] = sum_i Y[i, k][:] x[u, i][:] */
static void lanes_contract_x(const real *y_cg, const real *xb, int64_t mul, int64_t d1, int64_t d3, real *t) {
    for (int64_t k = 0; k < d3; k++)
        for (int64_t u = 0; u < mul; u++) {
            real acc[LANES] = {0};
            for (int64_t i = 0; i < d1; i++) {
                const real *a = y_cg + (i * d3 + k) * LANES, *xi = xb + (u * d1 + i) * LANES;
                LANE_LOOP acc[l] += a[l] * xi[l];
            }
            memcpy(t + (k * mul + u) * LANES, acc, sizeof(acc));
        }
}

static int64_t path_numel(const int64_t *p, int64_t mul) { return p[F_MODE] == 1 ? mul : mul * p[F_MULOUT]; }

/* the fused weights of one path, into their place in s->w */
static void lanes_path_weights(const int64_t *p, int64_t mul, lanes_t *s) {
    if (s->mlp)
        lanes_fused_weights(s->h, s->mlp + p[F_WOFF], s->n_hidden, s->numel, path_numel(p, mul),
                            s->w + p[F_WOFF] * LANES);
}

static void lanes_forward_block(const int64_t *meta, const int64_t *terms, const int64_t *paths,
                                const int32_t *cg_idx, const real *cg_val, lanes_t *s) {
    memset(s->out, 0, sizeof(real) * LANES * meta[M_DIMOUT]);
    for (int64_t q = 0; q < meta[M_NPATHS]; q++) {
        const int64_t *p = paths + q * N_FIELDS, *term = terms + 3 * p[F_TERM];
        const int64_t xoff = term[0], mul = term[1], d1 = term[2], d3 = p[F_D3], mo = p[F_MULOUT];
        real *out = s->out + p[F_OOFF] * LANES;
        const real *w = s->w + p[F_WOFF] * LANES;
        lanes_path_weights(p, mul, s);
        lanes_contract_y(p, cg_idx, cg_val, s->y, d1, s->y_cg);
        lanes_contract_x(s->y_cg, s->x + xoff * LANES, mul, d1, d3, s->t);
        if (p[F_MODE] == 1) {
            for (int64_t u = 0; u < mul; u++)
                for (int64_t k = 0; k < d3; k++) {
                    const real *wu = w + u * LANES, *tk = s->t + (k * mul + u) * LANES;
                    real *o = out + (u * d3 + k) * LANES;
                    LANE_LOOP o[l] += wu[l] * tk[l];
                }
            continue;
        }
        /* out[v, k] += sum_u T[k, u] W[u, v]; v innermost: consecutive FMAs update different outputs, so
         * none waits for the previous one's result */
        for (int64_t k = 0; k < d3; k++)
            for (int64_t u = 0; u < mul; u++) {
                const real *tk = s->t + (k * mul + u) * LANES, *wu = w + u * mo * LANES;
                for (int64_t v = 0; v < mo; v++) {
                    const real *wuv = wu + v * LANES;
                    real *o = out + (v * d3 + k) * LANES;
                    LANE_LOOP o[l] += tk[l] * wuv[l];
                }
            }
    }
}

int tp_forward_lanes(int64_t rows, const int64_t *meta, const int64_t *terms, const int64_t *paths,
                     const int32_t *cg_idx, const real *cg_val, const real *x, const real *y,
                     const real *weight, const real *hidden, const real *mlp, int64_t n_hidden, real *out,
                     const int64_t *src, const int64_t *dst) {
    lanes_t s;
    if (lanes_alloc(&s, meta, n_hidden)) return 1;
    const int64_t dim1 = meta[M_DIM1], dim2 = meta[M_DIM2], dim_out = meta[M_DIMOUT], numel = meta[M_NUMEL];
    for (int64_t r = 0; r < rows; r += LANES) {
        const int64_t n = rows - r < LANES ? rows - r : LANES;
        lanes_load(x, src, r, dim1, n, s.x);
        lanes_load(y, NULL, r, dim2, n, s.y);
        s.mlp = mlp;
        if (hidden)
            lanes_load(hidden, NULL, r, n_hidden, n, s.h); /* weights made path by path */
        else
            lanes_load(weight, NULL, r, numel, n, s.w);
        lanes_forward_block(meta, terms, paths, cg_idx, cg_val, &s);
        lanes_store(s.out, dim_out, n, out, dst, r);
    }
    lanes_free(&s);
    return 0;
}

static void lanes_backward_block(const int64_t *meta, const int64_t *terms, const int64_t *paths,
                                 const int32_t *cg_idx, const real *cg_val, int want_x, int want_y,
                                 int want_w, lanes_t *s) {
    if (want_x) memset(s->gx, 0, sizeof(real) * LANES * meta[M_DIM1]);
    if (want_y) memset(s->gy, 0, sizeof(real) * LANES * meta[M_DIM2]);
    if (want_w) memset(s->gw, 0, sizeof(real) * LANES * meta[M_NUMEL]);
    for (int64_t q = 0; q < meta[M_NPATHS]; q++) {
        const int64_t *p = paths + q * N_FIELDS, *term = terms + 3 * p[F_TERM];
        const int64_t xoff = term[0], mul = term[1], d1 = term[2], d3 = p[F_D3], mo = p[F_MULOUT];
        const real *w = s->w + p[F_WOFF] * LANES, *g = s->g + p[F_OOFF] * LANES, *xb = s->x + xoff * LANES;
        real *gw = s->gw + p[F_WOFF] * LANES;
        lanes_path_weights(p, mul, s);
        lanes_contract_y(p, cg_idx, cg_val, s->y, d1, s->y_cg);
        if (want_w) lanes_contract_x(s->y_cg, xb, mul, d1, d3, s->t);
        if (p[F_MODE] == 1) {
            for (int64_t u = 0; u < mul; u++)
                for (int64_t k = 0; k < d3; k++) {
                    const real *gk = g + (u * d3 + k) * LANES, *wu = w + u * LANES;
                    real *gt = s->gt + (k * mul + u) * LANES;
                    LANE_LOOP gt[l] = wu[l] * gk[l];
                    if (want_w) {
                        const real *tk = s->t + (k * mul + u) * LANES;
                        real *gwu = gw + u * LANES;
                        LANE_LOOP gwu[l] += gk[l] * tk[l];
                    }
                }
        } else { /* gt[k, u] = sum_v W[u, v] g[v, k] (u, k inner: no FMA waits for the previous one) */
            memset(s->gt, 0, sizeof(real) * LANES * d3 * mul);
            for (int64_t v = 0; v < mo; v++)
                for (int64_t u = 0; u < mul; u++) {
                    const real *wuv = w + (u * mo + v) * LANES;
                    for (int64_t k = 0; k < d3; k++) {
                        const real *gk = g + (v * d3 + k) * LANES;
                        real *gt = s->gt + (k * mul + u) * LANES;
                        LANE_LOOP gt[l] += wuv[l] * gk[l];
                    }
                    if (want_w) { /* gw[u, v] += sum_k T[k, u] g[v, k] */
                        real *gwuv = gw + (u * mo + v) * LANES;
                        for (int64_t k = 0; k < d3; k++) {
                            const real *gk = g + (v * d3 + k) * LANES, *tk = s->t + (k * mul + u) * LANES;
                            LANE_LOOP gwuv[l] += tk[l] * gk[l];
                        }
                    }
                }
        }
        if (want_x) /* gx[u, i] += sum_k Y[i, k] gt[k, u] */
            for (int64_t k = 0; k < d3; k++)
                for (int64_t u = 0; u < mul; u++) {
                    const real *gt = s->gt + (k * mul + u) * LANES;
                    for (int64_t i = 0; i < d1; i++) {
                        const real *a = s->y_cg + (i * d3 + k) * LANES;
                        real *gxi = s->gx + (xoff + u * d1 + i) * LANES;
                        LANE_LOOP gxi[l] += a[l] * gt[l];
                    }
                }
        if (want_y) {
            for (int64_t i = 0; i < d1; i++)
                for (int64_t k = 0; k < d3; k++) {
                    real acc[LANES] = {0};
                    for (int64_t u = 0; u < mul; u++) {
                        const real *xi = xb + (u * d1 + i) * LANES, *gt = s->gt + (k * mul + u) * LANES;
                        LANE_LOOP acc[l] += xi[l] * gt[l];
                    }
                    memcpy(s->g_cg + (i * d3 + k) * LANES, acc, sizeof(acc));
                }
            for (int64_t n = p[F_CGSTART]; n < p[F_CGSTART] + p[F_CGCOUNT]; n++) {
                const int32_t *jik = cg_idx + 3 * n;
                const real c = cg_val[n], *src = s->g_cg + (jik[1] * d3 + jik[2]) * LANES;
                real *gyj = s->gy + (p[F_YOFF] + jik[0]) * LANES;
                LANE_LOOP gyj[l] += c * src[l];
            }
        }
    }
}

int tp_backward_lanes(int64_t rows, const int64_t *meta, const int64_t *terms, const int64_t *paths,
                      const int32_t *cg_idx, const real *cg_val, const real *x, const real *y,
                      const real *weight, const real *hidden, const real *mlp, int64_t n_hidden,
                      const real *grad_out, real *grad_x, real *grad_y, real *grad_weight, real *grad_hidden,
                      real *grad_mlp, const int64_t *src, const int64_t *dst) {
    lanes_t s;
    if (lanes_alloc(&s, meta, n_hidden)) return 1;
    const int64_t dim1 = meta[M_DIM1], dim2 = meta[M_DIM2], dim_out = meta[M_DIMOUT], numel = meta[M_NUMEL];
    const int want_w = hidden ? (grad_hidden || grad_mlp) : grad_weight != NULL;
    for (int64_t r = 0; r < rows; r += LANES) {
        const int64_t n = rows - r < LANES ? rows - r : LANES;
        lanes_load(x, src, r, dim1, n, s.x);
        lanes_load(y, NULL, r, dim2, n, s.y);
        lanes_load(grad_out, dst, r, dim_out, n, s.g);
        s.mlp = hidden ? mlp : NULL;
        if (hidden)
            lanes_load(hidden, NULL, r, n_hidden, n, s.h); /* weights made path by path */
        else
            lanes_load(weight, NULL, r, numel, n, s.w);
        lanes_backward_block(meta, terms, paths, cg_idx, cg_val, grad_x != NULL, grad_y != NULL, want_w, &s);
        if (grad_x) lanes_store(s.gx, dim1, n, grad_x, src, r);
        if (grad_y) lanes_store(s.gy, dim2, n, grad_y, NULL, r);
        if (!hidden) {
            if (grad_weight) lanes_store(s.gw, numel, n, grad_weight, NULL, r);
            continue;
        }
        if (grad_hidden) {
            memset(s.gh, 0, sizeof(real) * LANES * n_hidden);
            lanes_hidden_grad(s.gw, mlp, n_hidden, numel, numel, s.gh);
            lanes_store(s.gh, n_hidden, n, grad_hidden, NULL, r);
        }
        if (grad_mlp) { /* lanes >= n have a zero gw: only the n rows are summed */
            memset(s.hpad, 0, sizeof(real) * LANES * s.n_pad);
            for (int64_t l = 0; l < n; l++)
                memcpy(s.hpad + l * s.n_pad, hidden + (r + l) * n_hidden, sizeof(real) * n_hidden);
            lanes_matrix_grad(s.gw, s.hpad, s.n_pad, numel, n, s.gm_t);
        }
    }
    if (grad_mlp)
        for (int64_t k = 0; k < n_hidden; k++)
            for (int64_t m = 0; m < numel; m++) grad_mlp[k * numel + m] += s.gm_t[m * s.n_pad + k];
    lanes_free(&s);
    return 0;
}

/* ---- Second order: the gradient of the backward, in one pass per row ---------------------------------
 * With cotangents (cx, cy, cw) of the backward's outputs (grad x, grad y, grad weight), w the row's weights,
 * P the product and B_x, B_y, B_w the parts of its backward (all linear in each argument):
 *   grad g = P(cx, y, w) + P(x, cy, w) + P(x, y, cw)
 *   grad x = B_x(g, cy, w) + B_x(g, y, cw),   grad y = B_y(g, cx, w) + B_y(g, x, cw)
 *   grad w = B_w(g, cx, y) + B_w(g, x, cy)
 * With fused weights w = h @ M and cotangents (ch, cm) of (grad h, grad M), cw = ch @ M + h @ cm and
 *   grad h = (grad w) @ M^T + B_w(g, x, y) @ cm^T,   grad M = h^T (grad w) + ch^T B_w(g, x, y).
 * The row's weights and cotangent weights are made once and the six products run on the row while it is in
 * cache. cx is read at src like x; grad g is summed into dst, grad x into src, grad M over rows (the caller
 * zeroes those accumulators). Absent cotangents and unwanted outputs are NULL.
 */

typedef struct {
    real *c, *w0, *acc_o, *tmp_o, *acc_x, *tmp_x, *acc_y, *tmp_y, *acc_w, *tmp_w;
} second_t;

static void second_free(second_t *d) {
    free(d->c); free(d->w0); free(d->acc_o); free(d->tmp_o); free(d->acc_x); free(d->tmp_x);
    free(d->acc_y); free(d->tmp_y); free(d->acc_w); free(d->tmp_w);
}

static int second_alloc(second_t *d, const int64_t *meta, int64_t lanes) {
    const int64_t numel = meta[M_NUMEL] > 0 ? meta[M_NUMEL] : 1, dim1 = meta[M_DIM1] > 0 ? meta[M_DIM1] : 1;
    const int64_t dim2 = meta[M_DIM2] > 0 ? meta[M_DIM2] : 1, dim_out = meta[M_DIMOUT] > 0 ? meta[M_DIMOUT] : 1;
    const size_t unit = sizeof(real) * lanes;
    d->c = aligned_alloc(64, unit * numel); d->w0 = aligned_alloc(64, unit * numel);
    d->acc_o = aligned_alloc(64, unit * dim_out); d->tmp_o = aligned_alloc(64, unit * dim_out);
    d->acc_x = aligned_alloc(64, unit * dim1); d->tmp_x = aligned_alloc(64, unit * dim1);
    d->acc_y = aligned_alloc(64, unit * dim2); d->tmp_y = aligned_alloc(64, unit * dim2);
    d->acc_w = aligned_alloc(64, unit * numel); d->tmp_w = aligned_alloc(64, unit * numel);
    if (!d->c || !d->w0 || !d->acc_o || !d->tmp_o || !d->acc_x || !d->tmp_x || !d->acc_y || !d->tmp_y ||
        !d->acc_w || !d->tmp_w) {
        second_free(d);
        return 1;
    }
    return 0;
}

static void add_into(real *restrict dst, const real *restrict src, int64_t count) {
#pragma omp simd
    for (int64_t c = 0; c < count; c++) dst[c] += src[c];
}

/* out[n] (+)= sum_k a[k] mat[k, n] */
static void row_matvec(const real *a, const real *mat, int64_t n_hidden, int64_t numel, real *out, int add) {
    if (!add) memset(out, 0, sizeof(real) * numel);
    for (int64_t k = 0; k < n_hidden; k++) {
        const real s = a[k], *row = mat + k * numel;
#pragma omp simd
        for (int64_t n = 0; n < numel; n++) out[n] += s * row[n];
    }
}

/* out[k] (+)= sum_n gw[n] mat[k, n] */
static void row_matvec_t(const real *gw, const real *mat, int64_t n_hidden, int64_t numel, real *out, int add) {
    for (int64_t k = 0; k < n_hidden; k++) {
        const real *row = mat + k * numel;
        real dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t n = 0; n < numel; n++) dot += gw[n] * row[n];
        out[k] = add ? out[k] + dot : dot;
    }
}

int tp_double_backward(int64_t rows, const int64_t *meta, const int64_t *terms, const int64_t *paths,
                       const int32_t *cg_idx, const real *cg_val, const real *x, const real *y,
                       const real *weight, const real *hidden, const real *mlp, int64_t n_hidden,
                       const real *grad_out, const real *cx, const real *cy, const real *cw, const real *ch,
                       const real *cm, real *out_g, real *out_x, real *out_y, real *out_w, real *out_h,
                       real *out_m, const int64_t *src, const int64_t *dst) {
    scratch_t s;
    second_t d;
    if (scratch_alloc(&s, meta)) return 1;
    if (second_alloc(&d, meta, 1)) {
        scratch_free(&s);
        return 1;
    }
    const int64_t dim1 = meta[M_DIM1], dim2 = meta[M_DIM2], dim_out = meta[M_DIMOUT], numel = meta[M_NUMEL];
    const int want_w = out_w || out_h || out_m, fused = hidden != NULL;
    const int need_w0 = fused && ((ch && out_m) || (cm && out_h));
    for (int64_t r = 0; r < rows; r++) {
        const real *xr = x + row_index(src, r) * dim1, *yr = y + r * dim2, *gr = grad_out + row_index(dst, r) * dim_out;
        const real *cxr = cx ? cx + row_index(src, r) * dim1 : NULL, *cyr = cy ? cy + r * dim2 : NULL;
        const real *hr = fused ? hidden + r * n_hidden : NULL, *chr = ch ? ch + r * n_hidden : NULL;
        const real *wr = fused ? s.w : weight + r * numel, *cr = cw ? cw + r * numel : NULL;
        if (fused) fused_weights(hr, mlp, n_hidden, numel, s.w);
        if (fused && (ch || cm)) {
            memset(d.c, 0, sizeof(real) * numel);
            if (chr) row_matvec(chr, mlp, n_hidden, numel, d.c, 1);
            if (cm) row_matvec(hr, cm, n_hidden, numel, d.c, 1);
            cr = d.c;
        }
        if (out_g) {
            memset(d.acc_o, 0, sizeof(real) * dim_out);
            const real *xs[3] = {cxr, xr, xr}, *ys[3] = {yr, cyr, yr}, *ws[3] = {wr, wr, cr};
            for (int q = 0; q < 3; q++) {
                if (!(q == 0 ? cxr : q == 1 ? cyr : cr)) continue;
                forward_row(meta, terms, paths, cg_idx, cg_val, xs[q], ys[q], ws[q], d.tmp_o, &s);
                add_into(d.acc_o, d.tmp_o, dim_out);
            }
            if (dst) add_into(out_g + dst[r] * dim_out, d.acc_o, dim_out);
            else memcpy(out_g + r * dim_out, d.acc_o, sizeof(real) * dim_out);
        }
        if (out_x) memset(d.acc_x, 0, sizeof(real) * dim1);
        if (out_y) memset(d.acc_y, 0, sizeof(real) * dim2);
        if (want_w) memset(d.acc_w, 0, sizeof(real) * numel);
        if (cxr && (out_y || want_w)) {
            backward_row(meta, terms, paths, cg_idx, cg_val, cxr, yr, wr, gr, NULL, out_y ? d.tmp_y : NULL,
                         want_w ? d.tmp_w : NULL, &s);
            if (out_y) add_into(d.acc_y, d.tmp_y, dim2);
            if (want_w) add_into(d.acc_w, d.tmp_w, numel);
        }
        if (cyr && (out_x || want_w)) {
            backward_row(meta, terms, paths, cg_idx, cg_val, xr, cyr, wr, gr, out_x ? d.tmp_x : NULL, NULL,
                         want_w ? d.tmp_w : NULL, &s);
            if (out_x) add_into(d.acc_x, d.tmp_x, dim1);
            if (want_w) add_into(d.acc_w, d.tmp_w, numel);
        }
        if (cr && (out_x || out_y || need_w0)) {
            backward_row(meta, terms, paths, cg_idx, cg_val, xr, yr, cr, gr, out_x ? d.tmp_x : NULL,
                         out_y ? d.tmp_y : NULL, need_w0 ? d.w0 : NULL, &s);
            if (out_x) add_into(d.acc_x, d.tmp_x, dim1);
            if (out_y) add_into(d.acc_y, d.tmp_y, dim2);
        }
        if (out_x) {
            if (src) add_into(out_x + src[r] * dim1, d.acc_x, dim1);
            else memcpy(out_x + r * dim1, d.acc_x, sizeof(real) * dim1);
        }
        if (out_y) memcpy(out_y + r * dim2, d.acc_y, sizeof(real) * dim2);
        if (out_w) memcpy(out_w + r * numel, d.acc_w, sizeof(real) * numel);
        if (out_h) {
            row_matvec_t(d.acc_w, mlp, n_hidden, numel, out_h + r * n_hidden, 0);
            if (cm) row_matvec_t(d.w0, cm, n_hidden, numel, out_h + r * n_hidden, 1);
        }
        if (out_m) {
            for (int64_t k = 0; k < n_hidden; k++) {
                real *mk = out_m + k * numel;
                const real a = hr[k], b = chr ? chr[k] : 0;
#pragma omp simd
                for (int64_t n = 0; n < numel; n++) mk[n] += a * d.acc_w[n];
                if (chr)
#pragma omp simd
                    for (int64_t n = 0; n < numel; n++) mk[n] += b * d.w0[n];
            }
        }
    }
    second_free(&d);
    scratch_free(&s);
    return 0;
}

/* The same for LANES rows at once (lane kernels): the first-order block functions run on swapped inputs. */
int tp_double_backward_lanes(int64_t rows, const int64_t *meta, const int64_t *terms, const int64_t *paths,
                             const int32_t *cg_idx, const real *cg_val, const real *x, const real *y,
                             const real *weight, const real *hidden, const real *mlp, int64_t n_hidden,
                             const real *grad_out, const real *cx, const real *cy, const real *cw,
                             const real *ch, const real *cm, real *out_g, real *out_x, real *out_y,
                             real *out_w, real *out_h, real *out_m, const int64_t *src, const int64_t *dst) {
    lanes_t s;
    second_t d;
    if (lanes_alloc(&s, meta, n_hidden)) return 1;
    real *cxb = lane_alloc(meta[M_DIM1]), *cyb = lane_alloc(meta[M_DIM2]), *chb = lane_alloc(n_hidden);
    real *chpad = lane_alloc(s.n_pad);
    if (!cxb || !cyb || !chb || !chpad || second_alloc(&d, meta, LANES)) {
        free(cxb); free(cyb); free(chb); free(chpad);
        lanes_free(&s);
        return 1;
    }
    const int64_t dim1 = meta[M_DIM1], dim2 = meta[M_DIM2], dim_out = meta[M_DIMOUT], numel = meta[M_NUMEL];
    const int want_w = out_w || out_h || out_m, fused = hidden != NULL;
    const int need_w0 = fused && ((ch && out_m) || (cm && out_h));
    real *const xb = s.x, *const yb = s.y, *const wb = s.w;
    s.mlp = NULL; /* the weights are made whole, once per block */
    for (int64_t r = 0; r < rows; r += LANES) {
        const int64_t n = rows - r < LANES ? rows - r : LANES;
        lanes_load(x, src, r, dim1, n, xb);
        lanes_load(y, NULL, r, dim2, n, yb);
        lanes_load(grad_out, dst, r, dim_out, n, s.g);
        if (cx) lanes_load(cx, src, r, dim1, n, cxb);
        if (cy) lanes_load(cy, NULL, r, dim2, n, cyb);
        if (fused) {
            lanes_load(hidden, NULL, r, n_hidden, n, s.h);
            lanes_fused_weights(s.h, mlp, n_hidden, numel, numel, wb);
        } else {
            lanes_load(weight, NULL, r, numel, n, wb);
        }
        const real *cb = NULL;
        if (cw) {
            lanes_load(cw, NULL, r, numel, n, d.c);
            cb = d.c;
        } else if (fused && (ch || cm)) {
            memset(d.c, 0, sizeof(real) * LANES * numel);
            if (ch) {
                lanes_load(ch, NULL, r, n_hidden, n, chb);
                lanes_fused_weights(chb, mlp, n_hidden, numel, numel, d.tmp_w);
                add_into(d.c, d.tmp_w, LANES * numel);
            }
            if (cm) {
                lanes_fused_weights(s.h, cm, n_hidden, numel, numel, d.tmp_w);
                add_into(d.c, d.tmp_w, LANES * numel);
            }
            cb = d.c;
        }
        if (out_g) {
            memset(d.acc_o, 0, sizeof(real) * LANES * dim_out);
            real *xs[3] = {cxb, xb, xb}, *ys[3] = {yb, cyb, yb};
            const real *ws[3] = {wb, wb, cb};
            const int on[3] = {cx != NULL, cy != NULL, cb != NULL};
            for (int q = 0; q < 3; q++) {
                if (!on[q]) continue;
                s.x = xs[q], s.y = ys[q], s.w = (real *)ws[q];
                lanes_forward_block(meta, terms, paths, cg_idx, cg_val, &s);
                add_into(d.acc_o, s.out, LANES * dim_out);
            }
            s.x = xb, s.y = yb, s.w = wb;
            lanes_store(d.acc_o, dim_out, n, out_g, dst, r);
        }
        if (out_x) memset(d.acc_x, 0, sizeof(real) * LANES * dim1);
        if (out_y) memset(d.acc_y, 0, sizeof(real) * LANES * dim2);
        if (want_w) memset(d.acc_w, 0, sizeof(real) * LANES * numel);
        if (cx && (out_y || want_w)) {
            s.x = cxb;
            lanes_backward_block(meta, terms, paths, cg_idx, cg_val, 0, out_y != NULL, want_w, &s);
            s.x = xb;
            if (out_y) add_into(d.acc_y, s.gy, LANES * dim2);
            if (want_w) add_into(d.acc_w, s.gw, LANES * numel);
        }
        if (cy && (out_x || want_w)) {
            s.y = cyb;
            lanes_backward_block(meta, terms, paths, cg_idx, cg_val, out_x != NULL, 0, want_w, &s);
            s.y = yb;
            if (out_x) add_into(d.acc_x, s.gx, LANES * dim1);
            if (want_w) add_into(d.acc_w, s.gw, LANES * numel);
        }
        if (cb && (out_x || out_y || need_w0)) {
            s.w = (real *)cb;
            lanes_backward_block(meta, terms, paths, cg_idx, cg_val, out_x != NULL, out_y != NULL, need_w0, &s);
            s.w = wb;
            if (out_x) add_into(d.acc_x, s.gx, LANES * dim1);
            if (out_y) add_into(d.acc_y, s.gy, LANES * dim2);
            if (need_w0) memcpy(d.w0, s.gw, sizeof(real) * LANES * numel);
        }
        if (out_x) lanes_store(d.acc_x, dim1, n, out_x, src, r);
        if (out_y) lanes_store(d.acc_y, dim2, n, out_y, NULL, r);
        if (out_w) lanes_store(d.acc_w, numel, n, out_w, NULL, r);
        if (out_h) {
            memset(s.gh, 0, sizeof(real) * LANES * n_hidden);
            lanes_hidden_grad(d.acc_w, mlp, n_hidden, numel, numel, s.gh);
            if (cm) lanes_hidden_grad(d.w0, cm, n_hidden, numel, numel, s.gh);
            lanes_store(s.gh, n_hidden, n, out_h, NULL, r);
        }
        if (out_m) {
            memset(s.hpad, 0, sizeof(real) * LANES * s.n_pad);
            for (int64_t l = 0; l < n; l++)
                memcpy(s.hpad + l * s.n_pad, hidden + (r + l) * n_hidden, sizeof(real) * n_hidden);
            lanes_matrix_grad(d.acc_w, s.hpad, s.n_pad, numel, n, s.gm_t);
            if (ch) {
                memset(chpad, 0, sizeof(real) * LANES * s.n_pad);
                for (int64_t l = 0; l < n; l++)
                    memcpy(chpad + l * s.n_pad, ch + (r + l) * n_hidden, sizeof(real) * n_hidden);
                lanes_matrix_grad(d.w0, chpad, s.n_pad, numel, n, s.gm_t);
            }
        }
    }
    if (out_m)
        for (int64_t k = 0; k < n_hidden; k++)
            for (int64_t m = 0; m < numel; m++) out_m[k * numel + m] += s.gm_t[m * s.n_pad + k];
    free(cxb); free(cyb); free(chb); free(chpad);
    second_free(&d);
    lanes_free(&s);
    return 0;
}

/* Row ranges in parallel on the OpenMP runtime the process already has (PyTorch's: the library's libgomp
 * resolves to the one loaded with torch), so the kernels share PyTorch's worker threads instead of competing
 * with them for the cores. args holds chunks x n_args values, chunk c's arguments of the entry point at
 * args[c * n_args]: int64 values (rows, n_hidden) cast to pointers, NULL for absent arrays. Returns 1 if
 * a chunk could not allocate its scratch buffers. */
#define I64(k) ((int64_t)(intptr_t)a[k])
#define HEAD I64(0), a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], I64(11)
enum { E_FORWARD, E_BACKWARD, E_DOUBLE, E_FORWARD_LANES, E_BACKWARD_LANES, E_DOUBLE_LANES };

static int call_entry(int64_t entry, void *const *a) {
    switch (entry) {
    case E_FORWARD: return tp_forward(HEAD, a[12], a[13], a[14]);
    case E_FORWARD_LANES: return tp_forward_lanes(HEAD, a[12], a[13], a[14]);
    case E_BACKWARD: return tp_backward(HEAD, a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19]);
    case E_BACKWARD_LANES:
        return tp_backward_lanes(HEAD, a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19]);
    case E_DOUBLE:
        return tp_double_backward(HEAD, a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21],
                                  a[22], a[23], a[24], a[25]);
    case E_DOUBLE_LANES:
        return tp_double_backward_lanes(HEAD, a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20],
                                        a[21], a[22], a[23], a[24], a[25]);
    default: return 2;
    }
}

int tp_run(int64_t entry, int64_t chunks, int64_t n_args, void *const *args) {
    if (chunks == 1) return call_entry(entry, args);
    int failed = 0;
#pragma omp parallel for num_threads(chunks) schedule(static, 1) reduction(| : failed)
    for (int64_t c = 0; c < chunks; c++) failed |= call_entry(entry, args + c * n_args);
    return failed;
}
