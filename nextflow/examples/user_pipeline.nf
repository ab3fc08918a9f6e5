#!/usr/bin/env nextflow
// An example of a user's own pipeline that uses enformer-vep's Nextflow steps as building blocks.
// In your pipeline, point the include paths at your enformer-vep checkout (or a git submodule of it),
// e.g. '/opt/enformer-vep/nextflow/subworkflows/local/enformer_vep/main'.
//
//   nextflow run nextflow/examples/user_pipeline.nf -params-file my-config.yaml \
//       -c nextflow/examples/user_pipeline.config [-profile ...] [-entry BY_STEPS]
//
// ENFORMER_VEP is the whole DAG (skip included). The subworkflow's file also re-exports the four step
// processes, so one include gives both; a single step can also come from modules/local/<step>/main.nf.

nextflow.enable.dsl = 2

include { ENFORMER_VEP; NAMESPACE; EXTRACT_SEQS; CHECK_CACHE; PREDICT; MERGE } from '../subworkflows/local/enformer_vep/main'

// Your own downstream step (here only a listing of scores.parquet; yours would read it with pyarrow, R, ...),
// written the way the enformer-vep modules are: a meta map in and out, ext.prefix, versions to the topic.
process REPORT_SCORES {
    tag "${meta.id}"
    label 'process_single'
    container 'enformer-vep:0.1.0'

    input:
    tuple val(meta), path(scores)

    output:
    tuple val(meta), path("${task.ext.prefix ?: meta.id}.ls.txt"), emit: report
    tuple val("${task.process}"), val('coreutils'), eval("ls --version | head -1 | sed 's/.* //'"), emit: versions_coreutils, topic: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    ls -l ${args} ${scores} > ${prefix}.ls.txt
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.ls.txt
    """
}

// The default entry: the whole DAG in one call, then your own step on its output.
workflow {
    def variants = file(params.variants, checkIfExists: true)
    def genome = file(params.genome, checkIfExists: true)
    def model = file(params.model, checkIfExists: true)
    def index = ['.fai', '.gzi'].collect { ext -> file("${params.genome}${ext}") }.findAll { f -> f.exists() }
    ENFORMER_VEP(
        Channel.value([[id: variants.baseName], variants]),
        Channel.value([[id: genome.baseName], genome, index]),
        Channel.value([[id: model.baseName], model]),
        params // or any map with the keys of workflow/schemas/config.schema.yaml
    )
    REPORT_SCORES(ENFORMER_VEP.out.scores)
}

// -entry BY_STEPS: the four steps wired by hand, e.g. to put your own logic between them. The flags are plain
// strings (the subworkflow builds them from the configuration; the namespace flags must be the same for
// CHECK_CACHE, PREDICT and MERGE), the cache is an absolute path string, never staged. Every file travels
// with its meta map ([ id: ... ]), as in nf-core modules.
workflow BY_STEPS {
    def cache_dir = file(params.cache).toAbsolutePath()
    cache_dir.mkdirs()
    def model_file = file(params.model, checkIfExists: true)
    def model = Channel.value([[id: model_file.baseName], model_file])
    def namespace = "--store float32 --window 196608"
    // The model is hashed once; CHECK_CACHE, PREDICT and MERGE get [ meta, model, namespace.json ].
    NAMESPACE(model, namespace)
    def record = model.combine(NAMESPACE.out.record.map { meta, json -> json }).first()

    def variants = file(params.variants, checkIfExists: true)
    EXTRACT_SEQS([[id: variants.baseName], variants], [[id: 'genome'], file(params.genome, checkIfExists: true), []], "--shard-size 500 --max-pvalue 5e-8 --window 196608")
    def shards = EXTRACT_SEQS.out.shards.flatMap { meta, files -> [files].flatten().collect { shard -> [meta + [id: shard.baseName], shard] } }
    CHECK_CACHE(shards, record, cache_dir.toString(), [], namespace)
    // The DAG-level skip: only shards with missing sequences go to PREDICT.
    def todo = CHECK_CACHE.out.todo
        .filter { meta, parquet, summary -> new groovy.json.JsonSlurper().parseText(summary.text).missing > 0 }
        .map { meta, parquet, summary -> [meta, parquet] }
    PREDICT(todo, record, cache_dir.toString(), params.device ?: 'cpu', "${namespace} --batch-size 4")
    def done = CHECK_CACHE.out.todo.map { row -> row[2] }.mix(PREDICT.out.summary.map { row -> row[1] }).toList()
    MERGE(EXTRACT_SEQS.out.variants, record, cache_dir.toString(), [], [], "${namespace} --stats SAD,logSED", done)
    REPORT_SCORES(MERGE.out.scores)
}
