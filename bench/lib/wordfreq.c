/* The `cc` workload of bench/run: a small, ordinary C program (word frequency count) that is
 * compiled, not run. Its includes and optimisation passes make the compiler open, stat and
 * read a realistic set of headers and write an object file into the workspace. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *word;
    unsigned long count;
    struct entry *next;
};

struct table {
    struct entry **buckets;
    size_t nbuckets;
    size_t nentries;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

static int table_init(struct table *t, size_t n)
{
    t->buckets = calloc(n, sizeof *t->buckets);
    t->nbuckets = n;
    t->nentries = 0;
    return t->buckets ? 0 : -1;
}

static int table_grow(struct table *t)
{
    size_t n = t->nbuckets * 2;
    struct entry **b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct entry *e = t->buckets[i];
        while (e) {
            struct entry *next = e->next;
            size_t j = hash(e->word) % n;
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return 0;
}

static int table_add(struct table *t, const char *word)
{
    size_t i = hash(word) % t->nbuckets;
    for (struct entry *e = t->buckets[i]; e; e = e->next) {
        if (strcmp(e->word, word) == 0) {
            e->count++;
            return 0;
        }
    }
    if (t->nentries * 4 > t->nbuckets * 3) {
        if (table_grow(t) != 0)
            return -1;
        i = hash(word) % t->nbuckets;
    }
    struct entry *e = malloc(sizeof *e);
    if (!e)
        return -1;
    e->word = strdup(word);
    if (!e->word) {
        free(e);
        return -1;
    }
    e->count = 1;
    e->next = t->buckets[i];
    t->buckets[i] = e;
    t->nentries++;
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a;
    const struct entry *y = *(const struct entry *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

static int count_stream(struct table *t, FILE *in)
{
    char word[256];
    size_t len = 0;
    int c;
    while ((c = fgetc(in)) != EOF) {
        if (isalnum(c) || c == '_') {
            if (len + 1 < sizeof word)
                word[len++] = (char)tolower(c);
        } else if (len) {
            word[len] = '\0';
            len = 0;
            if (table_add(t, word) != 0)
                return -1;
        }
    }
    if (len) {
        word[len] = '\0';
        if (table_add(t, word) != 0)
            return -1;
    }
    return ferror(in) ? -1 : 0;
}

int main(int argc, char **argv)
{
    struct table t;
    unsigned long top = argc > 1 ? strtoul(argv[1], NULL, 10) : 10;
    if (table_init(&t, 1024) != 0) {
        perror("wordfreq");
        return 1;
    }
    if (count_stream(&t, stdin) != 0) {
        fprintf(stderr, "wordfreq: %s\n", strerror(errno));
        return 1;
    }
    struct entry **all = malloc(t.nentries * sizeof *all + 1);
    if (!all)
        return 1;
    size_t k = 0;
    for (size_t i = 0; i < t.nbuckets; i++)
        for (struct entry *e = t.buckets[i]; e; e = e->next)
            all[k++] = e;
    qsort(all, k, sizeof *all, by_count);
    for (size_t i = 0; i < k && i < top; i++)
        printf("%8lu %s\n", all[i]->count, all[i]->word);
    free(all);
    return 0;
}
