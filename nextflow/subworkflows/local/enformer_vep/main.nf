// ENFORMER_VEP: the whole DAG of workflows/README.md, includable from any pipeline.
//
//   model ─ NAMESPACE (hashed once) → namespace.json for every CHECK_CACHE, PREDICT and MERGE
//   variants ─ EXTRACT_SEQS ─┬─ CHECK_CACHE shard 0 ─ (missing > 0?) ─ PREDICT shard 0 ─┐
//    + genome                 ├─ CHECK_CACHE shard 1 ─ (missing = 0: no PREDICT task) ───┼─ MERGE ─ scores.parquet
//                             └─ CHECK_CACHE shard N ─ (missing > 0?) ─ PREDICT shard N ─┘
//                                                                            MERGE ─ REPORT ─ report.html (optional)
//                                            (REPORT also reads every step's JSON record: cached/computed, time per step)
//
// The DAG-level skip: CHECK_CACHE's summary JSON is read on the head node and only shards whose `missing` is
// above zero are sent to PREDICT, so a run over a warm cache schedules no PREDICT (GPU) task at all. MERGE
// waits for every CHECK_CACHE and every PREDICT summary (collected into one list), then scores.
//
// `opts` is the configuration as a map: the keys of workflow/schemas/config.schema.yaml (in the pipeline, `params`,
// read from the same YAML with -params-file). Unset (null) keys are left out of the command lines, so the
// binary's defaults apply. The namespace flags (head, n_encoding, store, window, center_bins) are built once
// and given to CHECK_CACHE, PREDICT and MERGE alike: they choose the cache folder, so they must match.

include { NAMESPACE    } from '../../../modules/local/namespace/main'
include { EXTRACT_SEQS } from '../../../modules/local/extract_seqs/main'
include { CHECK_CACHE  } from '../../../modules/local/check_cache/main'
include { PREDICT      } from '../../../modules/local/predict/main'
include { MERGE        } from '../../../modules/local/merge/main'
include { REPORT       } from '../../../modules/local/report/main'

// A value for a bash command line, in single quotes.
def shellQuote(value) {
    return "'" + value.toString().replace("'", "'\\''") + "'"
}

// `--key=value` for each key of `opts` that is set: null and false are left out, true is the bare flag
// (rc: true → --rc), a list becomes one comma-separated value (stats: [SAD, D2] → --stats='SAD,D2'), and
// snake_case keys become kebab-case flags. After `=` a leading minus is a value, not a flag
// (shifts: [-1, 0, 1] → --shifts='-1,0,1', also when given on the command line as --shifts=-1,0,1).
def cliFlags(Map opts, List keys) {
    return keys
        .findAll { key -> opts[key] != null && opts[key] != false }
        .collect { key ->
            def flag = "--${key.replace('_', '-')}"
            def value = opts[key] instanceof List ? opts[key].join(',') : opts[key]
            value == true ? flag : "${flag}=${shellQuote(value)}"
        }
        .join(' ')
}

// The `missing` count of a CHECK_CACHE summary; rule 2 of workflows/README.md: nothing else decides PREDICT.
def missingSequences(summary) {
    def json = new groovy.json.JsonSlurper().parseText(summary.text)
    if (!(json.missing instanceof Number)) {
        error("enformer-vep: ${summary} has no numeric `missing` field; was it written by `enformer-vep check-cache`?")
    }
    return json.missing
}

workflow ENFORMER_VEP {
    take:
    ch_variants // channel: [ val(meta), path(variants) ]: the GWAS table or VCF; meta.id names the run
    ch_genome   // channel: [ val(meta2), path(fasta), path(index) ]: the reference FASTA and a list of its .fai/.gzi files ([]: built in the task)
    ch_model    // channel: [ val(meta3), path(model) ]: the ONNX model
    opts        // map: the configuration (cache, device, shard_size, stats, ...; see above)

    main:
    if (!opts.cache) {
        error("enformer-vep: no `cache` folder configured (see workflows/examples/config.yaml)")
    }
    // The shared cache: an absolute path, created here so that containers can bind it. Never staged.
    def cache_path = file(opts.cache.toString()).toAbsolutePath()
    cache_path.mkdirs()
    def cache_dir = cache_path.toString()
    def device = (opts.device ?: 'cpu').toString()
    def legacy_cache = opts.legacy_cache ? file(opts.legacy_cache.toString(), checkIfExists: true) : []
    def targets = opts.targets ? file(opts.targets.toString(), checkIfExists: true) : []

    def extract_args = cliFlags(opts, ['shard_size', 'columns', 'max_pvalue', 'top', 'region', 'window', 'max_allele_len', 'rc', 'shifts'])
    def namespace_args = cliFlags(opts, ['head', 'n_encoding', 'store', 'window', 'center_bins'])
    def predict_args = [namespace_args, cliFlags(opts, ['batch_size'])].join(' ')
    def merge_args = [namespace_args, cliFlags(opts, ['stats', 'tracks'])].join(' ')

    // Value channels: the model is read by every CHECK_CACHE and PREDICT task, not consumed by the first.
    def model = ch_model.first()

    // The model is hashed once, here; every other task gets [ meta, model, namespace.json ] and reads the record.
    NAMESPACE(model, namespace_args)
    def model_record = model
        .combine(NAMESPACE.out.record.map { meta, record -> record })
        .first()

    EXTRACT_SEQS(ch_variants.first(), ch_genome.first(), extract_args)

    // One CHECK_CACHE task per shard; the shard's meta is the run's with id = the shard's name (shard-00000)
    // and run = the run's id.
    def ch_shards = EXTRACT_SEQS.out.shards
        .flatMap { meta, shards ->
            [shards].flatten().collect { shard -> [meta + [id: shard.baseName, run: meta.id], shard] }
        }
    CHECK_CACHE(ch_shards, model_record, cache_dir, legacy_cache, namespace_args)

    // The DAG-level skip: a shard whose summary says `missing: 0` never reaches PREDICT.
    def ch_todo = CHECK_CACHE.out.todo
        .filter { meta, todo, summary -> missingSequences(summary) > 0 }
        .map { meta, todo, summary -> [meta, todo] }
    PREDICT(ch_todo, model_record, cache_dir, device, predict_args)

    // MERGE waits for all CHECK_CACHE and all PREDICT tasks: their summaries, collected into one list
    // (toList emits [] when there is no shard at all, so MERGE still runs and reports the empty result).
    def ch_done = CHECK_CACHE.out.todo
        .map { meta, todo, summary -> summary }
        .mix(PREDICT.out.summary.map { meta, summary -> summary })
        .toList()
    MERGE(EXTRACT_SEQS.out.variants, model_record, cache_dir, legacy_cache, targets, merge_args, ch_done)

    // The HTML report after MERGE (opts.report, on by default: only an explicit false leaves it out).
    def ch_report = Channel.empty()
    if (opts.report != false) {
        // Its run summary reads the steps' records, staged into one folder (records/): extract-seqs' manifest and
        // variants.parquet, every CHECK_CACHE and PREDICT summary (ch_done) and MERGE's summary. Their names
        // cannot collide: manifest.json, variants.parquet, SHARD.json, SHARD.predict.json, PREFIX.json (the
        // shards are named shard-NNNNN).
        def ch_records = EXTRACT_SEQS.out.manifest
            .mix(EXTRACT_SEQS.out.variants, MERGE.out.summary)
            .map { meta, record -> record }
            .mix(ch_done.flatten())
            .toList()
        REPORT(MERGE.out.scores, ch_records)
        ch_report = REPORT.out.html
    }

    // Versions: every module sends [ process, 'enformer-vep', version ] to the `versions` topic
    // (channel.topic('versions'), collected by the pipeline's main.nf); nothing to emit here.

    emit:
    scores    = MERGE.out.scores           // channel: [ val(meta), scores.parquet ]
    tracks    = MERGE.out.tracks           // channel: [ val(meta), scores.tracks.tsv ]
    merged    = MERGE.out.summary          // channel: [ val(meta), merge summary.json ]
    report    = ch_report                  // channel: [ val(meta), report.html ] (when opts.report is not false)
    variants  = EXTRACT_SEQS.out.variants  // channel: [ val(meta), variants.parquet ] (every input row, with status)
    manifest  = EXTRACT_SEQS.out.manifest  // channel: [ val(meta), manifest.json ]
    todo      = CHECK_CACHE.out.todo       // channel: [ val(meta), todo.parquet, summary.json ] (meta.id: the shard)
    predicted = PREDICT.out.summary        // channel: [ val(meta), predict summary.json ] (shards that ran)
}
