/*
 * fault-map: the picture of a postcopy migration, from the destination's
 * trace.
 *
 *   fault-map [--width W] [--height H] [--ring R] [--title TEXT] [--json]
 *             TRACE OUT.png
 *   fault-map --events        the trace events it reads, one a line
 *
 * TRACE is what a ferry destination wrote with "-msg timestamp=on" and
 * the events of --events ("-trace EVENT ... -D TRACE"; postcopy-latency.py
 * --fault-map does that).  Every page the destination placed in postcopy
 * is a point of the map: guest RAM across (the RAM blocks side by side in
 * the order they were registered, page 0 on the left), time down, from
 * the switch (postcopy_state_change "-> listening": from then on pages
 * come through userfaultfd) to the end ("running -> end", or the last
 * placement if later).  A pixel is a cell of several pages and a slice of
 * time:
 *
 *   red     a page placed there served a request (postcopy_request_done:
 *           a fault on the destination asked for it before it arrived)
 *   blue    pages the background push brought without being asked
 *   purple  both in the same cell
 *   grey    (the strip above the map) pages never placed in postcopy:
 *           they came before the switch, in precopy
 *
 * "Requested" is what the destination sees.  Without postcopy-preempt a
 * requested page may already have been on its way in the push (the
 * source's ram_request_already_sent says so); it is red all the same.
 * One red pixel among thousands is hard to see, so each requested cell
 * also gets a pale red ring (--ring R, 0 for none), drawn under the
 * cells: the ring marks where to look, the cells stay what they are.
 *
 * A block's page size is postcopy_advise's summary when that names one
 * size, else the largest power of two dividing all its offsets; pages are
 * counted in those units.  TRACE holds one migration (ferry appends to a
 * -D file: a second "-> advise" is refused).  Lines of other events, or
 * of other programs, are skipped.  QEMU 7.2's traces name and format
 * these events differently and are not read.
 * pixman draws; ui/screendump.c's png_save() writes the PNG with libpng.
 * Exit status: 0, 1 when TRACE cannot be used or OUT not written, 2 on bad
 * arguments.
 */
#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "ui/console.h"

#include <math.h>

static const char *const fmap_events[] = {
    "postcopy_advise", "postcopy_register", "postcopy_state_change",
    "postcopy_place_page", "postcopy_place_zero_run",
    "postcopy_request_done", NULL,
};

#define RGB_BACKGROUND  0xffffff
#define RGB_PUSHED      0x2f63d6
#define RGB_REQUESTED   0xe8201a
#define RGB_BOTH        0xa21fc4
#define RGB_RING        0xf7b2ac
#define RGB_BEFORE      0xa8a8a8
#define RGB_FRAME       0xc8c8c8
#define RGB_INK         0x202020

/* (A bogus offset must not make the bitmaps take all memory.) */
#define FMAP_MAX_RAM    (1ull << 44)

enum {
    CELL_PUSHED = 1,
    CELL_REQUESTED = 2,
};

typedef struct MapBlock {
    char *name;
    uint64_t len;           /* registered, or the end of its last placement */
    uint64_t gcd;           /* of its offsets and lengths: its page size */
    uint64_t page_size;
    uint64_t first;         /* its first target page across all blocks */
} MapBlock;

/* A placement (len 0: one host page of the block) or a served request. */
typedef struct MapEvent {
    guint block;
    uint64_t offset;
    uint64_t len;
    uint64_t ns;            /* served: fault to placement */
    int64_t t_us;
    bool zero;
} MapEvent;

typedef struct FaultMap {
    GPtrArray *blocks;      /* MapBlock */
    GArray *placed;         /* MapEvent */
    GArray *served;         /* MapEvent */
    uint64_t summary;       /* postcopy_advise: page sizes, OR-ed */
    int64_t t_listen, t_run, t_end;     /* -1: not in the trace */
    unsigned untimed;       /* lines of our events without a timestamp */
    unsigned malformed;
    unsigned migrations;
    /* after fmap_analyze() */
    int64_t t0, t1;
    uint64_t pages4k;       /* target pages of all blocks */
    uint64_t requested, pushed, pushed_zero, before;
    uint64_t *lat_ns;       /* served latencies, sorted */
    guint nlat;
} FaultMap;

/* The picture: a map of w x h cells at (x, y) in an image of img_w x img_h. */
typedef struct MapGeom {
    int w, h, x, y;
    int strip_y, strip_h;
    int img_w, img_h;
    int ring;
} MapGeom;

static void fmap_init(FaultMap *m)
{
    memset(m, 0, sizeof(*m));
    m->blocks = g_ptr_array_new();
    m->placed = g_array_new(false, false, sizeof(MapEvent));
    m->served = g_array_new(false, false, sizeof(MapEvent));
    m->t_listen = m->t_run = m->t_end = -1;
}

static void fmap_fini(FaultMap *m)
{
    for (guint i = 0; i < m->blocks->len; i++) {
        MapBlock *b = g_ptr_array_index(m->blocks, i);

        g_free(b->name);
        g_free(b);
    }
    g_ptr_array_free(m->blocks, true);
    g_array_free(m->placed, true);
    g_array_free(m->served, true);
    g_free(m->lat_ns);
}

static guint fmap_block(FaultMap *m, const char *name)
{
    MapBlock *b;

    for (guint i = 0; i < m->blocks->len; i++) {
        b = g_ptr_array_index(m->blocks, i);
        if (g_str_equal(b->name, name)) {
            return i;
        }
    }
    b = g_new0(MapBlock, 1);
    b->name = g_strdup(name);
    g_ptr_array_add(m->blocks, b);
    return m->blocks->len - 1;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;

        a = b;
        b = t;
    }
    return a;
}

static void fmap_note_extent(FaultMap *m, guint block, uint64_t offset,
                             uint64_t len)
{
    MapBlock *b = g_ptr_array_index(m->blocks, block);

    b->gcd = gcd64(gcd64(b->gcd, offset), len);
    /* (Saturated: fmap_analyze() refuses what is too large.) */
    b->len = MAX(b->len, offset > UINT64_MAX - len ? UINT64_MAX
                                                   : offset + len);
}

/* One line of an event of ours, @args after its name; false if malformed. */
static bool fmap_event(FaultMap *m, const char *name, const char *args,
                       int64_t t)
{
    char block[256], old[32], new[32];
    MapEvent ev = { .t_us = t };
    uint64_t len;
    int zero;

    if (g_str_equal(name, "postcopy_advise")) {
        return sscanf(args, " page size summary 0x%" SCNx64,
                      &m->summary) == 1;
    }
    if (g_str_equal(name, "postcopy_register")) {
        if (sscanf(args, " %255s 0x%" SCNx64, block, &len) != 2) {
            return false;
        }
        fmap_note_extent(m, fmap_block(m, block), 0, len);
        return true;
    }
    if (g_str_equal(name, "postcopy_state_change")) {
        if (sscanf(args, " %31s -> %31s", old, new) != 2) {
            return false;
        }
        if (g_str_equal(new, "advise")) {
            m->migrations++;
        } else if (g_str_equal(new, "listening")) {
            m->t_listen = t;
        } else if (g_str_equal(new, "running")) {
            m->t_run = t;
        } else if (g_str_equal(new, "end")) {
            m->t_end = t;
        }
        return true;
    }
    if (g_str_equal(name, "postcopy_place_page")) {
        if (sscanf(args, " %255s 0x%" SCNx64 " zero %d", block, &ev.offset,
                   &zero) != 3) {
            return false;
        }
        ev.block = fmap_block(m, block);
        ev.zero = zero;
        fmap_note_extent(m, ev.block, ev.offset, TARGET_PAGE_SIZE);
        g_array_append_val(m->placed, ev);
        return true;
    }
    if (g_str_equal(name, "postcopy_place_zero_run")) {
        if (sscanf(args, " %255s 0x%" SCNx64 " len 0x%" SCNx64, block,
                   &ev.offset, &ev.len) != 3 || !ev.len) {
            return false;
        }
        ev.block = fmap_block(m, block);
        ev.zero = true;
        fmap_note_extent(m, ev.block, ev.offset, ev.len);
        g_array_append_val(m->placed, ev);
        return true;
    }
    if (g_str_equal(name, "postcopy_request_done")) {
        if (sscanf(args, " %255s 0x%" SCNx64 " after %" SCNu64 " ns", block,
                   &ev.offset, &ev.ns) != 3) {
            return false;
        }
        ev.block = fmap_block(m, block);
        fmap_note_extent(m, ev.block, ev.offset, TARGET_PAGE_SIZE);
        g_array_append_val(m->served, ev);
        return true;
    }
    return true;
}

static bool fmap_is_ours(const char *name)
{
    for (int i = 0; fmap_events[i]; i++) {
        if (g_str_equal(name, fmap_events[i])) {
            return true;
        }
    }
    return false;
}

/* "TID@SECONDS.MICROSECONDS:NAME ARGS" (-msg timestamp=on) or "NAME ARGS". */
static void fmap_line(FaultMap *m, const char *line)
{
    char name[64];
    int64_t sec, usec;
    int n = 0;

    if (sscanf(line, "%*u@%" SCNd64 ".%6" SCNd64 ":%63s%n", &sec, &usec,
               name, &n) == 3 && n > 0) {
        if (!fmap_is_ours(name)) {
            return;
        }
        /* (Bounded, so that time arithmetic cannot overflow.) */
        if (sec < 0 || sec > ((int64_t)1 << 40) || usec < 0 ||
            !fmap_event(m, name, line + n, sec * 1000000 + usec)) {
            m->malformed++;
        }
        return;
    }
    if (sscanf(line, "%63s", name) == 1 && fmap_is_ours(name)) {
        m->untimed++;
    }
}

static bool fmap_load(FaultMap *m, const char *path, Error **errp)
{
    g_autofree char *line = NULL;
    size_t cap = 0;
    FILE *f = fopen(path, "r");

    if (!f) {
        error_setg_errno(errp, errno, "cannot open %s", path);
        return false;
    }
    while (getline(&line, &cap, f) >= 0) {
        fmap_line(m, line);
    }
    if (ferror(f)) {
        error_setg_errno(errp, errno, "cannot read %s", path);
        fclose(f);
        return false;
    }
    fclose(f);
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Block page sizes and positions, the time span, the latencies. */
static bool fmap_analyze(FaultMap *m, const char *path, Error **errp)
{
    if (!m->placed->len) {
        if (m->untimed) {
            error_setg(errp, "%s has no timestamps: trace ferry with "
                       "-msg timestamp=on", path);
        } else {
            error_setg(errp, "%s has no postcopy placements (a ferry "
                       "destination's trace with the events of "
                       "fault-map --events)", path);
        }
        return false;
    }
    if (m->migrations > 1) {
        error_setg(errp, "%s holds %u migrations: give one a file", path,
                   m->migrations);
        return false;
    }
    m->pages4k = 0;
    for (guint i = 0; i < m->blocks->len; i++) {
        MapBlock *b = g_ptr_array_index(m->blocks, i);

        /*
         * One page size in the summary is every block's; with several,
         * the largest power of two that divides all its offsets.
         */
        if (QEMU_IS_POW2(m->summary)) {
            b->page_size = m->summary;
        } else {
            b->page_size = b->gcd & -b->gcd;
        }
        b->page_size = MAX(b->page_size, TARGET_PAGE_SIZE);
        if (b->len > FMAP_MAX_RAM || b->page_size > FMAP_MAX_RAM ||
            m->pages4k + (b->len >> 12) > FMAP_MAX_RAM >> 12) {
            error_setg(errp, "%s: block %s reaches 0x%" PRIx64 ": more RAM "
                       "than a map is drawn of (16 TiB)", path, b->name,
                       b->len);
            return false;
        }
        b->len = QEMU_ALIGN_UP(b->len, b->page_size);
        b->first = m->pages4k;
        m->pages4k += b->len / TARGET_PAGE_SIZE;
    }
    m->t0 = m->t_listen;
    m->t1 = m->t_end;
    for (guint i = 0; i < m->placed->len; i++) {
        MapEvent *ev = &g_array_index(m->placed, MapEvent, i);

        if (m->t0 < 0 || ev->t_us < m->t0) {
            m->t0 = ev->t_us;
        }
        m->t1 = MAX(m->t1, ev->t_us);
    }
    m->nlat = m->served->len;
    m->lat_ns = g_new(uint64_t, m->nlat + 1);
    for (guint i = 0; i < m->nlat; i++) {
        m->lat_ns[i] = g_array_index(m->served, MapEvent, i).ns;
    }
    qsort(m->lat_ns, m->nlat, sizeof(uint64_t), cmp_u64);
    return true;
}

static uint64_t fmap_lat_pct(FaultMap *m, int p)
{
    guint k;

    if (!m->nlat) {
        return 0;
    }
    /* Nearest rank, as postcopy-latency.py's pct(). */
    k = MIN(m->nlat - 1, (guint)MAX(0.0, ceil(p / 100.0 * m->nlat) - 1));
    return m->lat_ns[k];
}

/* ---- the cells ---- */

static int geom_col(const MapGeom *g, const FaultMap *m, uint64_t page4k)
{
    /* (At most 2^32 target pages, FMAP_MAX_RAM, times 2^14 columns.) */
    return (int)(page4k * g->w / m->pages4k);
}

static int geom_row(const MapGeom *g, const FaultMap *m, int64_t t)
{
    double span = MAX(m->t1 - m->t0, 1);
    double row = floor((t - m->t0) * (double)g->h / span);

    return (int)MIN(MAX(row, 0), g->h - 1);
}

/* Marks the cells of @page4k (a host page of @pages target pages). */
static void cells_mark(uint8_t *cells, const MapGeom *g, const FaultMap *m,
                       uint64_t page4k, uint64_t pages, int row,
                       uint8_t flag)
{
    int x0 = geom_col(g, m, page4k);
    int x1 = MAX(geom_col(g, m, page4k + pages), x0 + 1);

    for (int x = x0; x < MIN(x1, g->w); x++) {
        cells[row * g->w + x] |= flag;
    }
}

/*
 * Fills @cells (w x h, CELL_*) and @before (w: 1 where a page was never
 * placed), and counts the pages.
 */
static void fmap_cells(FaultMap *m, const MapGeom *g, uint8_t *cells,
                       uint8_t *before)
{
    unsigned long *served = bitmap_new(m->pages4k);
    unsigned long *placed = bitmap_new(m->pages4k);

    for (guint i = 0; i < m->served->len; i++) {
        MapEvent *ev = &g_array_index(m->served, MapEvent, i);
        MapBlock *b = g_ptr_array_index(m->blocks, ev->block);
        uint64_t off = QEMU_ALIGN_DOWN(ev->offset, b->page_size);

        bitmap_set(served, b->first + off / TARGET_PAGE_SIZE,
                   b->page_size / TARGET_PAGE_SIZE);
    }
    for (guint i = 0; i < m->placed->len; i++) {
        MapEvent *ev = &g_array_index(m->placed, MapEvent, i);
        MapBlock *b = g_ptr_array_index(m->blocks, ev->block);
        uint64_t per = b->page_size / TARGET_PAGE_SIZE;
        uint64_t start = QEMU_ALIGN_DOWN(ev->offset, b->page_size);
        uint64_t end = ev->offset + (ev->len ? ev->len : b->page_size);
        int row = geom_row(g, m, ev->t_us);

        for (uint64_t off = start; off < end; off += b->page_size) {
            uint64_t p = b->first + off / TARGET_PAGE_SIZE;

            if (test_bit(p, placed)) {
                continue;           /* (placed twice: the first counts) */
            }
            bitmap_set(placed, p, per);
            if (test_bit(p, served)) {
                m->requested++;
                cells_mark(cells, g, m, p, per, row, CELL_REQUESTED);
            } else {
                m->pushed++;
                m->pushed_zero += ev->zero;
                cells_mark(cells, g, m, p, per, row, CELL_PUSHED);
            }
        }
    }
    for (guint i = 0; i < m->blocks->len; i++) {
        MapBlock *b = g_ptr_array_index(m->blocks, i);
        uint64_t per = b->page_size / TARGET_PAGE_SIZE;

        for (uint64_t p = b->first; p < b->first + b->len / TARGET_PAGE_SIZE;
             p += per) {
            if (!test_bit(p, placed)) {
                int x0 = geom_col(g, m, p);
                int x1 = MAX(geom_col(g, m, p + per), x0 + 1);

                m->before++;
                memset(before + x0, 1, MIN(x1, g->w) - x0);
            }
        }
    }
    g_free(served);
    g_free(placed);
}

/* ---- drawing ---- */

static void fill(pixman_image_t *img, int x, int y, int w, int h,
                 uint32_t rgb)
{
    pixman_color_t c = {
        .red = ((rgb >> 16) & 0xff) * 0x101,
        .green = ((rgb >> 8) & 0xff) * 0x101,
        .blue = (rgb & 0xff) * 0x101,
        .alpha = 0xffff,
    };
    pixman_box32_t box = { x, y, x + w, y + h };

    pixman_image_fill_boxes(PIXMAN_OP_SRC, img, &c, 1, &box);
}

/*
 * A 5 x 7 font for the labels: rows top to bottom, '#' set.  Other
 * characters print as a box.
 */
#define FONT_SCALE  2
#define GLYPH_W     (6 * FONT_SCALE)        /* advance */
#define GLYPH_H     (7 * FONT_SCALE)

static const struct {
    char c;
    const char rows[7 * 6];
} font[] = {
    { ' ', ".....|.....|.....|.....|.....|.....|....." },
    { '.', ".....|.....|.....|.....|.....|.##..|.##.." },
    { ',', ".....|.....|.....|.....|.##..|..#..|.#..." },
    { ':', ".....|.##..|.##..|.....|.##..|.##..|....." },
    { '/', ".....|....#|...#.|..#..|.#...|#....|....." },
    { '-', ".....|.....|.....|#####|.....|.....|....." },
    { '(', "...#.|..#..|.#...|.#...|.#...|..#..|...#." },
    { ')', ".#...|..#..|...#.|...#.|...#.|..#..|.#..." },
    { '%', "##...|##..#|...#.|..#..|.#...|#..##|...##" },
    { '+', ".....|..#..|..#..|#####|..#..|..#..|....." },
    { '=', ".....|.....|#####|.....|#####|.....|....." },
    { '_', ".....|.....|.....|.....|.....|.....|#####" },
    { '0', ".###.|#...#|#..##|#.#.#|##..#|#...#|.###." },
    { '1', "..#..|.##..|..#..|..#..|..#..|..#..|.###." },
    { '2', ".###.|#...#|....#|...#.|..#..|.#...|#####" },
    { '3', "#####|...#.|..#..|...#.|....#|#...#|.###." },
    { '4', "...#.|..##.|.#.#.|#..#.|#####|...#.|...#." },
    { '5', "#####|#....|####.|....#|....#|#...#|.###." },
    { '6', "..##.|.#...|#....|####.|#...#|#...#|.###." },
    { '7', "#####|....#|...#.|..#..|.#...|.#...|.#..." },
    { '8', ".###.|#...#|#...#|.###.|#...#|#...#|.###." },
    { '9', ".###.|#...#|#...#|.####|....#|...#.|.##.." },
    { 'a', ".....|.....|.###.|....#|.####|#...#|.####" },
    { 'b', "#....|#....|#.##.|##..#|#...#|#...#|####." },
    { 'c', ".....|.....|.###.|#....|#....|#...#|.###." },
    { 'd', "....#|....#|.##.#|#..##|#...#|#...#|.####" },
    { 'e', ".....|.....|.###.|#...#|#####|#....|.###." },
    { 'f', "..##.|.#..#|.#...|###..|.#...|.#...|.#..." },
    { 'g', ".....|.####|#...#|#...#|.####|....#|.###." },
    { 'h', "#....|#....|#.##.|##..#|#...#|#...#|#...#" },
    { 'i', "..#..|.....|.##..|..#..|..#..|..#..|.###." },
    { 'j', "...#.|.....|..##.|...#.|...#.|#..#.|.##.." },
    { 'k', "#....|#....|#..#.|#.#..|##...|#.#..|#..#." },
    { 'l', ".##..|..#..|..#..|..#..|..#..|..#..|.###." },
    { 'm', ".....|.....|##.#.|#.#.#|#.#.#|#...#|#...#" },
    { 'n', ".....|.....|#.##.|##..#|#...#|#...#|#...#" },
    { 'o', ".....|.....|.###.|#...#|#...#|#...#|.###." },
    { 'p', ".....|.....|####.|#...#|####.|#....|#...." },
    { 'q', ".....|.....|.####|#...#|.####|....#|....#" },
    { 'r', ".....|.....|#.##.|##..#|#....|#....|#...." },
    { 's', ".....|.....|.###.|#....|.###.|....#|####." },
    { 't', ".#...|.#...|###..|.#...|.#...|.#..#|..##." },
    { 'u', ".....|.....|#...#|#...#|#...#|#..##|.##.#" },
    { 'v', ".....|.....|#...#|#...#|#...#|.#.#.|..#.." },
    { 'w', ".....|.....|#...#|#...#|#.#.#|#.#.#|.#.#." },
    { 'x', ".....|.....|#...#|.#.#.|..#..|.#.#.|#...#" },
    { 'y', ".....|.....|#...#|#...#|.####|....#|.###." },
    { 'z', ".....|.....|#####|...#.|..#..|.#...|#####" },
    { 'B', "####.|#...#|#...#|####.|#...#|#...#|####." },
    { 'G', ".###.|#...#|#....|#.###|#...#|#...#|.####" },
    { 'K', "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#" },
    { 'M', "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#" },
    { 'T', "#####|..#..|..#..|..#..|..#..|..#..|..#.." },
};

/* @c's glyph; a capital without one has its small letter's. */
static const char *glyph(char c)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < ARRAY_SIZE(font); i++) {
            if (font[i].c == c) {
                return font[i].rows;
            }
        }
        c = g_ascii_tolower(c);
    }
    return "#####|#...#|#...#|#...#|#...#|#...#|#####";
}

static int text_width(const char *s)
{
    return (int)strlen(s) * GLYPH_W - FONT_SCALE;
}

static void draw_text(pixman_image_t *img, int x, int y, const char *s,
                      uint32_t rgb)
{
    for (; *s; s++, x += GLYPH_W) {
        const char *rows = glyph(*s);

        for (int r = 0; r < 7; r++) {
            for (int c = 0; c < 5; c++) {
                if (rows[r * 6 + c] == '#') {
                    fill(img, x + c * FONT_SCALE, y + r * FONT_SCALE,
                         FONT_SCALE, FONT_SCALE, rgb);
                }
            }
        }
    }
}

/*
 * A time label at @step's precision, in seconds if @span is a second or
 * more, else in milliseconds: "1.5 s", "250 ms", "0.25 ms".
 */
static char *time_label(int64_t us, int64_t step, int64_t span)
{
    if (span >= 1000000) {
        return g_strdup_printf("%.*f s", step >= 1000000 ? 0 :
                               step >= 100000 ? 1 : step >= 10000 ? 2 : 3,
                               us / 1e6);
    }
    return g_strdup_printf("%.*f ms", step >= 1000 ? 0 : step >= 100 ? 1 :
                           step >= 10 ? 2 : 3, us / 1e3);
}

/* A size label in the largest unit that @step is a multiple of. */
static char *size_label(uint64_t bytes, uint64_t step)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    int u = 0;

    if (!bytes) {
        return g_strdup("0");
    }
    while (u < 3 && !(step % (1024ull << (10 * (u + 1))))) {
        u++;
    }
    return g_strdup_printf("%" PRIu64 " %s", bytes >> (10 * (u + 1)),
                           units[u]);
}

/* The smallest of 1, 2, 5 x 10^k that cuts @span into at most @n steps. */
static int64_t nice_step(int64_t span, int n)
{
    for (int64_t p = 1;; p *= 10) {
        for (int k = 0; k < 3; k++) {
            int64_t s = p * (int64_t[]){ 1, 2, 5 }[k];

            if (span / s <= n) {
                return s;
            }
        }
    }
}

static void draw_axes(pixman_image_t *img, const MapGeom *g,
                      const FaultMap *m)
{
    int64_t span = MAX(m->t1 - m->t0, 1);
    int64_t tstep = nice_step(span, 8);
    uint64_t bytes = m->pages4k * TARGET_PAGE_SIZE;
    uint64_t bstep = TARGET_PAGE_SIZE;
    int below = g->y + g->h;

    for (int64_t t = 0; t <= span; t += tstep) {
        int y = g->y + (int)((double)t * g->h / span);
        g_autofree char *s = time_label(t, tstep, span);

        fill(img, g->x - 8, y, 6, 1, RGB_INK);
        draw_text(img, g->x - 12 - text_width(s),
                  MIN(MAX(y - GLYPH_H / 2, 0), g->img_h - GLYPH_H), s,
                  RGB_INK);
    }
    while (bytes / bstep > 8) {
        bstep *= 2;
    }
    for (uint64_t b = 0; b <= bytes; b += bstep) {
        int x = g->x + geom_col(g, m, b / TARGET_PAGE_SIZE);
        g_autofree char *s = size_label(b, bstep);
        int tx = x - text_width(s) / 2;

        fill(img, x, below + 2, 1, 6, RGB_INK);
        draw_text(img, MIN(MAX(tx, 0), g->img_w - text_width(s)),
                  below + 12, s, RGB_INK);
    }
}

static void draw_legend(pixman_image_t *img, const MapGeom *g)
{
    static const struct {
        uint32_t rgb;
        const char *what;
    } items[] = {
        { RGB_REQUESTED, "requested" },
        { RGB_PUSHED, "pushed" },
        { RGB_BOTH, "both in one cell" },
        { RGB_BEFORE, "before the switch (strip above)" },
    };
    int x = g->x, y = g->y + g->h + 12 + GLYPH_H + 14;

    for (size_t i = 0; i < ARRAY_SIZE(items); i++) {
        fill(img, x, y, GLYPH_H, GLYPH_H, items[i].rgb);
        draw_text(img, x + GLYPH_H + 8, y, items[i].what, RGB_INK);
        x += GLYPH_H + 8 + text_width(items[i].what) + 28;
    }
}

static void geom_init(MapGeom *g, int w, int h, int ring)
{
    g->w = w;
    g->h = h;
    g->ring = ring;
    g->x = 10 + 8 * GLYPH_W + 14;       /* room for "1500 ms" */
    g->strip_y = 10 + GLYPH_H + 10;
    g->strip_h = 10;
    g->y = g->strip_y + g->strip_h + 4;
    g->img_w = g->x + g->w + 60;        /* half a "1024 MiB" */
    g->img_h = g->y + g->h + 12 + GLYPH_H + 14 + GLYPH_H + 10;
}

static void draw_rings(uint32_t *bits, int stride, const MapGeom *g,
                       const uint8_t *cells)
{
    int r = g->ring;

    for (int y = 0; y < g->h; y++) {
        for (int x = 0; x < g->w; x++) {
            if (!(cells[y * g->w + x] & CELL_REQUESTED)) {
                continue;
            }
            for (int dy = -r; dy <= r; dy++) {
                for (int dx = -r; dx <= r; dx++) {
                    int d2 = dx * dx + dy * dy;

                    if (d2 > r * r || d2 < (r - 1) * (r - 1) ||
                        x + dx < 0 || x + dx >= g->w ||
                        y + dy < 0 || y + dy >= g->h) {
                        continue;
                    }
                    bits[(g->y + y + dy) * stride + g->x + x + dx] =
                        0xff000000 | RGB_RING;
                }
            }
        }
    }
}

static pixman_image_t *fmap_render(FaultMap *m, const MapGeom *g,
                                   const char *title)
{
    static const uint32_t rgb[4] = {
        RGB_BACKGROUND, RGB_PUSHED, RGB_REQUESTED, RGB_BOTH,
    };
    g_autofree uint8_t *cells = g_new0(uint8_t, (size_t)g->w * g->h);
    g_autofree uint8_t *before = g_new0(uint8_t, g->w);
    g_autofree char *head = NULL;
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8,
                                                   g->img_w, g->img_h,
                                                   NULL, 0);
    uint32_t *bits;
    int stride;

    if (!img) {
        return NULL;
    }
    fmap_cells(m, g, cells, before);
    bits = pixman_image_get_data(img);
    stride = pixman_image_get_stride(img) / 4;
    fill(img, 0, 0, g->img_w, g->img_h, RGB_BACKGROUND);
    fill(img, g->x - 1, g->strip_y - 1, g->w + 2, g->strip_h + 2, RGB_FRAME);
    fill(img, g->x - 1, g->y - 1, g->w + 2, g->h + 2, RGB_FRAME);
    fill(img, g->x, g->strip_y, g->w, g->strip_h, RGB_BACKGROUND);
    fill(img, g->x, g->y, g->w, g->h, RGB_BACKGROUND);
    for (int x = 0; x < g->w; x++) {
        if (before[x]) {
            fill(img, g->x + x, g->strip_y, 1, g->strip_h, RGB_BEFORE);
        }
    }
    if (g->ring > 0) {
        draw_rings(bits, stride, g, cells);
    }
    for (int y = 0; y < g->h; y++) {
        for (int x = 0; x < g->w; x++) {
            uint8_t c = cells[y * g->w + x];

            if (c) {
                bits[(g->y + y) * stride + g->x + x] = 0xff000000 | rgb[c];
            }
        }
    }
    head = g_strdup_printf("%s: %" PRIu64 " requested, %" PRIu64 " pushed, "
                           "%" PRIu64 " before the switch", title,
                           m->requested, m->pushed, m->before);
    draw_text(img, g->x, 10, head, RGB_INK);
    draw_axes(img, g, m);
    draw_legend(img, g);
    return img;
}

/* ---- main ---- */

/* @s as a JSON string (UTF-8 passes through). */
static char *json_string(const char *s)
{
    GString *j = g_string_new("\"");

    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            g_string_append_printf(j, "\\%c", *s);
        } else if ((unsigned char)*s < 0x20) {
            g_string_append_printf(j, "\\u%04x", (unsigned char)*s);
        } else {
            g_string_append_c(j, *s);
        }
    }
    g_string_append_c(j, '"');
    return g_string_free(j, false);
}

static void fmap_print(FaultMap *m, const MapGeom *g, const char *out,
                       bool json)
{
    MapBlock *b0 = g_ptr_array_index(m->blocks, 0);
    double span_s = (m->t1 - m->t0) / 1e6;
    double run_s = m->t_run >= 0 ? (m->t_run - m->t0) / 1e6 : -1;

    if (json) {
        g_autofree char *qout = json_string(out);
        g_autofree char *qrun = run_s >= 0 ? g_strdup_printf("%.6f", run_s)
                                           : g_strdup("null");

        printf("{\"png\": %s, \"width\": %d, \"height\": %d, "
               "\"map\": {\"x\": %d, \"y\": %d, \"w\": %d, \"h\": %d}, "
               "\"strip\": {\"y\": %d, \"h\": %d}, "
               "\"pages\": %" PRIu64 ", \"page_size\": %" PRIu64 ", "
               "\"blocks\": %u, \"requested\": %" PRIu64 ", "
               "\"pushed\": %" PRIu64 ", \"pushed_zero\": %" PRIu64 ", "
               "\"before_switch\": %" PRIu64 ", \"postcopy_s\": %.6f, "
               "\"run_s\": %s, \"malformed\": %u, "
               "\"request_latency_us\": {\"p50\": %.1f, \"p99\": %.1f, "
               "\"max\": %.1f}}\n",
               qout, g->img_w, g->img_h, g->x, g->y, g->w, g->h,
               g->strip_y, g->strip_h, m->requested + m->pushed + m->before,
               b0->page_size, m->blocks->len, m->requested, m->pushed,
               m->pushed_zero, m->before, span_s, qrun, m->malformed,
               fmap_lat_pct(m, 50) / 1e3, fmap_lat_pct(m, 99) / 1e3,
               m->nlat ? m->lat_ns[m->nlat - 1] / 1e3 : 0.0);
        return;
    }
    printf("fault map %s (%d x %d, map %d x %d)\n", out, g->img_w, g->img_h,
           g->w, g->h);
    printf("  %" PRIu64 " pages of %" PRIu64 " KiB (%" PRIu64 " MiB) in "
           "%u block%s; a column is %.1f pages, a row %.3f ms\n",
           m->requested + m->pushed + m->before, b0->page_size >> 10,
           (m->pages4k * TARGET_PAGE_SIZE) >> 20, m->blocks->len,
           m->blocks->len == 1 ? "" : "s",
           (double)m->pages4k * TARGET_PAGE_SIZE / b0->page_size / g->w,
           span_s * 1e3 / g->h);
    printf("  postcopy %.3f s from the switch to the last page", span_s);
    if (run_s >= 0) {
        printf(" (the guest ran here from %.3f ms)", run_s * 1e3);
    }
    printf("\n  requested %" PRIu64 ", pushed %" PRIu64 " (%" PRIu64
           " of them zero), before the switch %" PRIu64 "\n",
           m->requested, m->pushed, m->pushed_zero, m->before);
    if (m->nlat) {
        printf("  request to placement: p50 %.0f us, p99 %.0f us, "
               "max %.0f us\n", fmap_lat_pct(m, 50) / 1e3,
               fmap_lat_pct(m, 99) / 1e3, m->lat_ns[m->nlat - 1] / 1e3);
    }
    if (m->malformed) {
        printf("  %u malformed lines skipped\n", m->malformed);
    }
}

static bool fmap_write(pixman_image_t *img, const char *out, Error **errp)
{
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);

    if (fd < 0) {
        error_setg_errno(errp, errno, "cannot create %s", out);
        return false;
    }
    if (!png_save(fd, img, errp)) {      /* (it closes fd) */
        unlink(out);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    gint width = 1024, height = 768, ring = 4;
    gboolean json = false, events = false;
    g_autofree char *title = NULL;
    GOptionEntry entries[] = {
        { "width", 0, 0, G_OPTION_ARG_INT, &width,
          "map width in pixels (default 1024)", "W" },
        { "height", 0, 0, G_OPTION_ARG_INT, &height,
          "map height in pixels (default 768)", "H" },
        { "ring", 0, 0, G_OPTION_ARG_INT, &ring,
          "ring requested cells, radius R pixels (default 4, 0: none)",
          "R" },
        { "title", 0, 0, G_OPTION_ARG_STRING, &title,
          "title line (default: TRACE's name)", "TEXT" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json,
          "print the numbers as one JSON object", NULL },
        { "events", 0, 0, G_OPTION_ARG_NONE, &events,
          "print the trace events to enable, and exit", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("TRACE OUT.png - the postcopy fault map");
    g_autoptr(GError) gerr = NULL;
    Error *err = NULL;
    pixman_image_t *img;
    FaultMap m;
    MapGeom g;
    bool ok;

    error_set_progname(argv[0]);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        fprintf(stderr, "fault-map: %s\n", gerr->message);
        return 2;
    }
    if ((!events && argc != 3) || width < 16 || height < 16 ||
        width > 16384 || height > 16384 || ring < 0 || ring > 64) {
        fprintf(stderr, "usage: fault-map [--width W] [--height H] "
                "[--ring R] [--title TEXT] [--json] TRACE OUT.png\n"
                "       fault-map --events\n");
        return 2;
    }
    if (events) {
        for (int i = 0; fmap_events[i]; i++) {
            printf("%s\n", fmap_events[i]);
        }
        return 0;
    }
    if (!title) {
        title = g_path_get_basename(argv[1]);
    }
    fmap_init(&m);
    ok = fmap_load(&m, argv[1], &err) && fmap_analyze(&m, argv[1], &err);
    if (ok) {
        geom_init(&g, width, height, ring);
        img = fmap_render(&m, &g, title);
        if (!img) {
            error_setg(&err, "cannot make a %d x %d image", g.img_w,
                       g.img_h);
            ok = false;
        } else {
            ok = fmap_write(img, argv[2], &err);
            pixman_image_unref(img);
        }
    }
    if (ok) {
        fmap_print(&m, &g, argv[2], json);
    } else {
        error_report_err(err);
    }
    fmap_fini(&m);
    return ok ? 0 : 1;
}
