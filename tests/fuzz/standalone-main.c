/*
 * standalone-main.c: a fuzz target without libFuzzer (fuzz-<name>-replay).
 *
 * Design note
 *
 * Any compiler can build this driver, so every build (gcc, ASan+UBSan)
 * replays each fuzz target (fuzz.h) over a fixed, deterministic input set
 * and prints TAP:
 *
 *   seeds      the target's own seeds (make_seeds: e.g. a stream this
 *              process saves itself, which must be accepted, so a harness
 *              that no longer reaches the code fails), then every file
 *              named on the command line, directories walked recursively
 *              in name order (captures, the kept corpus, regressions)
 *   per seed   the seed as is; truncations at N evenly spaced offsets
 *              (0, len/N, ...); M single bit flips, alternately in the
 *              first 4 KiB and anywhere; K splices of a prefix of the seed
 *              and a suffix of the next seed
 *
 * Test k is derived from (seed index, mutation index) alone, with a fixed
 * PRNG seed, so "--only k --dump FILE" reproduces it without running the
 * others, and FILE can be handed to the libFuzzer executable as is.  Each
 * input is copied into a buffer of exactly its size so that ASan sees any
 * read past its end.  A crash ends the run with a sanitizer report; the
 * last "ok" line says where it stopped.
 *
 * With --skip-missing, a missing seed path makes the whole test a TAP
 * skip ("1..0 # SKIP"), for checkouts without the QEMU captures.
 */
#include "qemu/osdep.h"
#include "fuzz.h"

/* Where half of the bit flips go: the dense, structured start. */
#define SMOKE_FLIP_HEAD 4096

typedef struct Seed {
    char *name;
    uint8_t *data;
    size_t len;
    bool must_load;             /* one of the target's own seeds */
} Seed;

typedef struct SmokeOpts {
    gint truncations;
    gint flips;
    gint splices;
    gint only;                  /* 1-based test number, 0: all */
    gchar *dump;                /* with --only: write the input here */
    gchar *write_seeds;         /* write the target's seeds here, exit */
    gboolean skip_missing;
    gboolean no_native;
    gboolean verbose;
} SmokeOpts;

static SmokeOpts opts = { .truncations = 64, .flips = 128, .splices = 8 };

/* splitmix64: small, fixed, and the same everywhere. */
static uint64_t smoke_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static Seed *seed_new(const char *name, uint8_t *data, size_t len)
{
    Seed *s = g_new0(Seed, 1);

    s->name = g_strdup(name);
    s->data = data;
    s->len = len;
    return s;
}

static void seed_free(gpointer p)
{
    Seed *s = p;

    g_free(s->name);
    g_free(s->data);
    g_free(s);
}

static void smoke_bail_out(const char *fmt, ...) G_GNUC_PRINTF(1, 2)
    QEMU_NORETURN;
static void smoke_bail_out(const char *fmt, ...)
{
    va_list ap;

    printf("Bail out! ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    exit(1);
}

static void add_seed_path(GPtrArray *seeds, const char *path,
                          const char *name);

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_seed_dir(GPtrArray *seeds, const char *path,
                         const char *name)
{
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func(g_free);
    GDir *dir = g_dir_open(path, 0, &gerr);
    const char *e;

    if (!dir) {
        smoke_bail_out("%s", gerr->message);
    }
    while ((e = g_dir_read_name(dir))) {
        g_ptr_array_add(entries, g_strdup(e));
    }
    g_dir_close(dir);
    g_ptr_array_sort(entries, compare_names);
    for (guint i = 0; i < entries->len; i++) {
        const char *n = g_ptr_array_index(entries, i);
        g_autofree char *child = g_build_filename(path, n, NULL);
        g_autofree char *child_name = name ? g_build_filename(name, n, NULL)
                                           : g_strdup(n);

        add_seed_path(seeds, child, child_name);
    }
}

/* A file is one seed; a directory, every file below it. */
static void add_seed_path(GPtrArray *seeds, const char *path,
                          const char *name)
{
    g_autoptr(GError) gerr = NULL;
    gchar *data;
    gsize len;

    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        add_seed_dir(seeds, path, name);
        return;
    }
    if (!g_file_get_contents(path, &data, &len, &gerr)) {
        smoke_bail_out("%s", gerr->message);
    }
    g_ptr_array_add(seeds, seed_new(name ? name : path, (uint8_t *)data,
                                    len));
}

static void add_own_seed(const char *name, const uint8_t *data, size_t len,
                         void *opaque)
{
    GPtrArray *seeds = opaque;
    Seed *s = seed_new(name, g_memdup2(data, len ? len : 1), len);

    s->must_load = true;
    g_ptr_array_add(seeds, s);
}

static unsigned mutations_per_seed(GPtrArray *seeds)
{
    return 1 + opts.truncations + opts.flips +
           (seeds->len > 1 ? opts.splices : 0);
}

static uint8_t *copy_bytes(const uint8_t *p, size_t len)
{
    uint8_t *c = g_malloc(len ? len : 1);

    memcpy(c, p, len);
    return c;
}

static uint8_t *mutate_flip(const Seed *s, unsigned k, uint64_t *rng,
                            size_t *len, char **desc)
{
    size_t window = k % 2 ? s->len : MIN(s->len, SMOKE_FLIP_HEAD);
    uint8_t *in = copy_bytes(s->data, s->len);
    size_t pos;
    unsigned bit;

    *len = s->len;
    if (!window) {
        *desc = g_strdup("flip-none (empty seed)");
        return in;
    }
    pos = smoke_rand(rng) % window;
    bit = smoke_rand(rng) % 8;
    in[pos] ^= 1u << bit;
    *desc = g_strdup_printf("flip-%zu.%u", pos, bit);
    return in;
}

static uint8_t *mutate_splice(const Seed *s, const Seed *o, uint64_t *rng,
                              size_t *len, char **desc)
{
    size_t a = smoke_rand(rng) % (s->len + 1);
    size_t b = smoke_rand(rng) % (o->len + 1);
    uint8_t *in;

    *len = a + (o->len - b);
    in = g_malloc(*len ? *len : 1);
    memcpy(in, s->data, a);
    memcpy(in + a, o->data + b, o->len - b);
    *desc = g_strdup_printf("splice-[:%zu]+%s[%zu:]", a, o->name, b);
    return in;
}

/* Input @j of seed @si (j = 0: the seed itself). */
static uint8_t *make_input(GPtrArray *seeds, guint si, unsigned j,
                           size_t *len, char **desc)
{
    const Seed *s = g_ptr_array_index(seeds, si);
    uint64_t rng = 0x5eedf00dull ^ ((uint64_t)si << 32) ^ j;
    unsigned k = j - 1;

    if (j == 0) {
        *len = s->len;
        *desc = g_strdup("as-is");
        return copy_bytes(s->data, s->len);
    }
    if (k < (unsigned)opts.truncations) {
        *len = s->len * k / opts.truncations;
        *desc = g_strdup_printf("truncate-%zu", *len);
        return copy_bytes(s->data, *len);
    }
    k -= opts.truncations;
    if (k < (unsigned)opts.flips) {
        return mutate_flip(s, k, &rng, len, desc);
    }
    return mutate_splice(s, g_ptr_array_index(seeds, (si + 1) % seeds->len),
                         &rng, len, desc);
}

static void dump_input(const uint8_t *in, size_t len)
{
    g_autoptr(GError) gerr = NULL;

    if (!g_file_set_contents(opts.dump, (const char *)in, len, &gerr)) {
        smoke_bail_out("%s", gerr->message);
    }
}

/* Runs test @num; returns false for "not ok". */
static bool run_test(GPtrArray *seeds, unsigned num)
{
    unsigned per = mutations_per_seed(seeds);
    guint si = (num - 1) / per;
    unsigned j = (num - 1) % per;
    const Seed *s = g_ptr_array_index(seeds, si);
    g_autofree char *desc = NULL;
    g_autofree uint8_t *in = NULL;
    g_autofree char *why = NULL;
    size_t len;
    bool ok;
    int ret;

    in = make_input(seeds, si, j, &len, &desc);
    if (opts.dump) {
        dump_input(in, len);
    }
    ret = fuzz_target.run(in, len, &why);
    ok = !(s->must_load && j == 0 && ret != 0);
    printf("%s %u - seed %s mutation %s\n", ok ? "ok" : "not ok", num,
           s->name, desc);
    if (why && (opts.verbose || !ok)) {
        g_autofree char *msg = g_strescape(why, NULL);

        printf("# ret %d: %s\n", ret, msg);
    }
    fflush(stdout);
    return ok;
}

static const GOptionEntry smoke_options[] = {
    { "truncations", 0, 0, G_OPTION_ARG_INT, &opts.truncations,
      "truncations per seed (default 64)", "N" },
    { "flips", 0, 0, G_OPTION_ARG_INT, &opts.flips,
      "single-bit flips per seed (default 128)", "M" },
    { "splices", 0, 0, G_OPTION_ARG_INT, &opts.splices,
      "splices per seed with the next seed (default 8)", "K" },
    { "only", 0, 0, G_OPTION_ARG_INT, &opts.only,
      "run test number K only", "K" },
    { "dump", 0, 0, G_OPTION_ARG_FILENAME, &opts.dump,
      "with --only: write that test's input to FILE", "FILE" },
    { "write-seeds", 0, 0, G_OPTION_ARG_FILENAME, &opts.write_seeds,
      "write the target's own seeds into DIR and exit", "DIR" },
    { "skip-missing", 0, 0, G_OPTION_ARG_NONE, &opts.skip_missing,
      "TAP-skip everything if a seed path is missing", NULL },
    { "no-own-seeds", 0, 0, G_OPTION_ARG_NONE, &opts.no_native,
      "do not add the target's own seeds", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opts.verbose,
      "print why each refused input was refused", NULL },
    { NULL }
};

static void parse_options(int *argc, char ***argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("[SEED...]");
    g_autoptr(GError) gerr = NULL;

    g_autofree char *summary = g_strdup_printf("Replays the %s fuzz target "
                                               "over seed files and "
                                               "deterministic mutations of "
                                               "them (TAP).",
                                               fuzz_target.name);

    g_option_context_set_summary(ctx, summary);
    g_option_context_add_main_entries(ctx, smoke_options, NULL);
    if (!g_option_context_parse(ctx, argc, argv, &gerr)) {
        smoke_bail_out("%s", gerr->message);
    }
    if (opts.truncations < 0 || opts.flips < 0 || opts.splices < 0 ||
        opts.only < 0 || (opts.dump && !opts.only)) {
        smoke_bail_out("bad option values (see --help)");
    }
}

static void write_own_seeds(GPtrArray *seeds)
{
    g_mkdir_with_parents(opts.write_seeds, 0755);
    for (guint i = 0; i < seeds->len; i++) {
        const Seed *s = g_ptr_array_index(seeds, i);
        g_autofree char *path = g_build_filename(opts.write_seeds, s->name,
                                                 NULL);
        g_autoptr(GError) gerr = NULL;

        if (!g_file_set_contents(path, (const char *)s->data, s->len,
                                 &gerr)) {
            smoke_bail_out("%s", gerr->message);
        }
    }
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) seeds = g_ptr_array_new_with_free_func(seed_free);
    unsigned total, failed = 0;

    parse_options(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (!g_file_test(argv[i], G_FILE_TEST_EXISTS)) {
            if (opts.skip_missing) {
                printf("1..0 # SKIP seed path %s not found\n", argv[i]);
                return 0;
            }
            smoke_bail_out("seed path %s not found", argv[i]);
        }
    }
    fuzz_target.init();
    if ((!opts.no_native || opts.write_seeds) && fuzz_target.make_seeds) {
        fuzz_target.make_seeds(add_own_seed, seeds);
    }
    if (opts.write_seeds) {
        write_own_seeds(seeds);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        add_seed_path(seeds, argv[i], NULL);
    }
    if (!seeds->len) {
        printf("1..0 # SKIP no seeds\n");
        return 0;
    }
    total = seeds->len * mutations_per_seed(seeds);
    if (opts.only) {
        if ((unsigned)opts.only > total) {
            smoke_bail_out("--only %d: there are %u tests", opts.only, total);
        }
        return run_test(seeds, opts.only) ? 0 : 1;
    }
    printf("1..%u\n", total);
    for (unsigned num = 1; num <= total; num++) {
        failed += !run_test(seeds, num);
    }
    return failed ? 1 : 0;
}
