// kb-bench: in-process benchmarks for kb. Not a test: timings on shared machines are noisy, so
// it reports medians and percentiles over many runs and is run by scripts/bench.sh.
//
//   kb-bench search --db PATH --queries queries.jsonl [--limit 10] [--runs 3] [--mode keyword|vector|hybrid]
//   kb-bench embed --model NAME --passages passages.jsonl [--kind passage]     (passages per CPU-second)
//   kb-bench vectors --count N [--dimension 384] [--queries 200]               (exact top-10 latency)
//   kb-bench scale --chunks N --corpus C --queries Q --sqlite FILE --postgres URL   (see Scale.swift)
//   kb-bench ocr --pages DIR [--pdf FILE]                                      (OCR error rate and speed; OCRBench.swift)
//   kb-bench generate --model FILE.gguf --server PATH/llama-server --squad FILE.json [--questions 8]
//                     [--threads 2] [--max-tokens 64]   (kb in process vs llama-server: same prompts, alternating)
import Foundation
import KBCore
#if canImport(Glibc)
import Glibc
#endif

/// User + system CPU seconds of this process so far (all threads).
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

func printJSON(_ object: [String: Any]) {
    let json = try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: json, as: UTF8.self))
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("kb-bench: \(message)\n".utf8))
    exit(64)
}

func option(_ name: String, in arguments: [String]) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = p / 100 * Double(sorted.count - 1)
    let low = Int(rank.rounded(.down)), high = Int(rank.rounded(.up))
    return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "embed": benchEmbed(arguments)
case "vectors": benchVectors(arguments)
case "search": await benchSearch(arguments)
case "lists": await dumpLists(arguments)
case "generate": await benchGenerate(arguments)
case "scale": await benchScale(arguments)
case "ocr": benchOCR(arguments)
default: fail("usage: kb-bench search|embed|vectors … (see the comment at the top of main.swift)")
}

func benchEmbed(_ arguments: [String]) {
    guard let model = option("--model", in: arguments), let path = option("--passages", in: arguments) else {
        fail("embed needs --model and --passages")
    }
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    let passages: [String] = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
        (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["text"] as? String
    }
    let kind = EmbeddingKind(rawValue: option("--kind", in: arguments) ?? "passage") ?? .passage
    do {
        let configuration = try Configuration.resolve(.init(embeddingModel: model))
        let loadStart = Date()
        let embedder = try EmbedderCatalog(modelsFolder: configuration.modelsFolder).embedder(named: model)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        _ = try embedder.embed(Array(passages.prefix(8)), kind: kind)   // warm up
        let cpuStart = cpuSeconds(), wallStart = Date()
        let batch = try embedder.embed(passages, kind: kind)
        let cpu = cpuSeconds() - cpuStart, wall = Date().timeIntervalSince(wallStart)
        printJSON(["model": model, "passages": passages.count, "truncated": batch.truncated, "cpu_seconds": cpu,
                   "wall_seconds": wall, "passages_per_cpu_second": Double(passages.count) / cpu,
                   "passages_per_second": Double(passages.count) / wall, "load_seconds": loadSeconds])
    } catch {
        fail("\(error)")
    }
}

func benchVectors(_ arguments: [String]) {
    let count = Int(option("--count", in: arguments) ?? "10000") ?? 10000
    let dimension = Int(option("--dimension", in: arguments) ?? "384") ?? 384
    let queries = Int(option("--queries", in: arguments) ?? "200") ?? 200
    var state: UInt64 = 0x9E3779B97F4A7C15
    func random() -> Float { state = state &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23) }
    func unit() -> [Float] {
        var v = (0..<dimension).map { _ in random() }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in v.indices { v[i] /= norm }
        return v
    }
    var values: [Float] = []
    values.reserveCapacity(count * dimension)
    for _ in 0..<count { values += unit() }
    let index = FlatVectorIndex(VectorSet(model: "random", dimension: dimension, ids: Array(0..<count), values: values))
    values = []
    let probes = (0..<queries).map { _ in unit() }
    _ = index.nearest(probes[0], limit: 10)
    var times: [Double] = []
    for probe in probes {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = index.nearest(probe, limit: 10)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    times.sort()
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    printJSON(["vectors": count, "dimension": dimension, "queries": queries, "p50_ms": percentile(times, 50),
               "p99_ms": percentile(times, 99), "peak_rss_mib": Double(usage.ru_maxrss) / 1024])
}

/// For fusion studies: each judged query's keyword, vector and hybrid rankings (document ids and scores) and the
/// hybrid side's evidence (the best keyword hit's coverage of the query, the keyword weight) as JSON lines.
func dumpLists(_ arguments: [String]) async {
    guard let db = option("--db", in: arguments), let corpus = option("--corpus", in: arguments),
          let queries = option("--queries", in: arguments), let qrels = option("--qrels", in: arguments) else {
        fail("lists needs --db, --corpus, --queries, --qrels")
    }
    do {
        let dataset = try BEIRDataset.load(corpus: corpus, queries: queries, qrels: qrels)
        var configuration = try Configuration.resolve(.init(databasePath: db))
        configuration.databasePath = db
        let kb = try KnowledgeBase(configuration: configuration)
        for query in dataset.queries {
            var record: [String: Any] = ["id": query.id, "qrels": dataset.judgements[query.id] ?? [:]]
            for mode in [SearchMode.keyword, .vector, .hybrid] {
                var seen = Set<String>()
                var list: [[Any]] = []
                let results = (try? await kb.search(query.text, limit: 300, mode: mode).results) ?? []
                if mode == .hybrid, let evidence = results.first?.explanation {
                    record["keyword_coverage"] = evidence.keywordCoverage ?? NSNull()
                    record["keyword_weight"] = evidence.keywordWeight ?? NSNull()
                }
                for hit in results {
                    guard let hash = hit.path.firstIndex(of: "#") else { continue }
                    let doc = String(hit.path[hit.path.index(after: hash)...])
                    if seen.insert(doc).inserted { list.append([doc, hit.score]) }
                }
                record[mode.rawValue] = list
            }
            let json = try JSONSerialization.data(withJSONObject: record)
            print(String(decoding: json, as: UTF8.self))
        }
    } catch {
        fail("\(error)")
    }
}

func benchSearch(_ arguments: [String]) async {
guard let db = option("--db", in: arguments), let queriesPath = option("--queries", in: arguments) else {
    fail("search needs --db and --queries")
}
let limit = Int(option("--limit", in: arguments) ?? "10") ?? 10
let runs = Int(option("--runs", in: arguments) ?? "3") ?? 3

guard let data = FileManager.default.contents(atPath: queriesPath) else { fail("cannot read \(queriesPath)") }
let queries: [String] = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
    return object["text"] as? String
}
guard !queries.isEmpty else { fail("no queries in \(queriesPath)") }

let mode = option("--mode", in: arguments).flatMap(SearchMode.init(rawValue:)) ?? .keyword
do {
    var configuration = try Configuration.resolve(.init(databasePath: db))
    configuration.databasePath = db
    let kb = try KnowledgeBase(configuration: configuration)
    let coldStart = DispatchTime.now().uptimeNanoseconds
    _ = try await kb.search(queries[0], limit: limit, mode: mode)   // opens the store, loads the indexes (and the model)
    let coldSeconds = Double(DispatchTime.now().uptimeNanoseconds - coldStart) / 1e9
    for query in queries.prefix(50) { _ = try await kb.search(query, limit: limit, mode: mode) }   // warm the caches
    var perQuery = [[Double]](repeating: [], count: queries.count)
    var hits = 0
    for _ in 0..<runs {
        for (index, query) in queries.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            let response = try await kb.search(query, limit: limit, mode: mode)
            perQuery[index].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            hits += response.results.isEmpty ? 0 : 1
        }
    }
    // Each query's median over the runs, then percentiles over queries.
    let medians = perQuery.map { $0.sorted()[$0.count / 2] }.sorted()
    var report: [String: Any] = [
        "queries": queries.count, "runs": runs, "limit": limit, "chunks": try await kb.status().chunks, "cold_seconds": coldSeconds,
        "p50_ms": percentile(medians, 50), "p90_ms": percentile(medians, 90), "p99_ms": percentile(medians, 99),
        "max_ms": medians.last ?? 0, "mean_ms": medians.reduce(0, +) / Double(medians.count),
        "queries_with_hits": hits / runs, "mode": mode.rawValue,
    ]
    if mode != .keyword, let model = try await kb.searchModel() {
        // The bound hybrid search cannot beat: embedding the query alone, same queries, same runs.
        let embedder = try kb.embedder(named: model)
        var embedTimes = [[Double]](repeating: [], count: queries.count)
        for _ in 0..<runs {
            for (index, query) in queries.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try embedder.embed([query], kind: .query)
                embedTimes[index].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
        }
        let embedMedians = embedTimes.map { $0.sorted()[$0.count / 2] }.sorted()
        report["embed_model"] = model
        report["embed_p50_ms"] = percentile(embedMedians, 50)
        report["embed_p90_ms"] = percentile(embedMedians, 90)
        report["embeddings_per_second"] = 1000 / (embedMedians.reduce(0, +) / Double(embedMedians.count))
        // The machine's bound: one embedding per core at a time, every query once.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let parallelStart = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: cores) { worker in
            for index in stride(from: worker, to: queries.count, by: cores) { _ = try? embedder.embed([queries[index]], kind: .query) }
        }
        report["embeddings_per_second_parallel"] = Double(queries.count) / (Double(DispatchTime.now().uptimeNanoseconds - parallelStart) / 1e9)
    }
    let json = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: json, as: UTF8.self))
} catch {
    fail("\(error)")
}
}

/// Time to first token and generation speed, kb's in-process llama.cpp against llama-server built from the
/// same source, on the same model, prompts (kb's template over SQuAD paragraphs), thread count and context.
/// Runs alternate (kb, server, kb, server, …) so that machine noise hits both alike; reports medians.
func benchGenerate(_ arguments: [String]) async {
    guard let modelPath = option("--model", in: arguments), let server = option("--server", in: arguments),
          let squad = option("--squad", in: arguments) else { fail("generate needs --model, --server and --squad") }
    let questions = Int(option("--questions", in: arguments) ?? "8") ?? 8
    let threads = Int(option("--threads", in: arguments) ?? "2") ?? 2
    let maxTokens = Int(option("--max-tokens", in: arguments) ?? "64") ?? 64
    let context = 4096
    let dataset: SQuADDataset
    do { dataset = try SQuADDataset.load(squad) } catch { fail("\(error)") }

    // Prompts: one question per paragraph (so that no two prompts share more than the system prompt and
    // the prompt cache cannot hide prompt processing), with its paragraph and the next four as passages.
    var prompts: [[ChatMessage]] = []
    var seenParagraphs = Set<Int>()
    let chosen = dataset.questions.filter { seenParagraphs.insert($0.paragraph).inserted }.prefix(questions)
    for question in chosen {
        let indices = (0..<5).map { (question.paragraph + $0) % dataset.paragraphs.count }
        let blocks = indices.enumerated().map { number, index -> String in
            let paragraph = dataset.paragraphs[index]
            return PromptTemplate.passageBlock(number: number + 1, passage: Passage(
                chunkID: index, documentID: index, path: paragraph.id + ".txt", title: paragraph.title, heading: paragraph.title,
                text: paragraph.context, startLine: 1, endLine: 1, page: nil, ordinal: 0))
        }
        let language = (try? QueryAnalyzer.analyze(question.text))?.language ?? "und"
        prompts.append([ChatMessage(role: "system", content: PromptTemplate.system(language: language)),
                        ChatMessage(role: "user", content: PromptTemplate.user(question: question.text, blocks: blocks))])
    }

    let local: LlamaLanguageModel
    do { local = try LlamaLanguageModel(path: modelPath, name: "bench", contextTokens: context, threads: threads) } catch { fail("\(error)") }
    let port = Int.random(in: 20000...60000)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: server)
    process.arguments = ["-m", modelPath, "--alias", "bench", "--host", "127.0.0.1", "--port", String(port), "-c", String(context),
                         "-t", String(threads), "-tb", String(threads), "-np", "1", "--no-webui"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { fail("cannot start \(server): \(error)") }
    defer { kill(process.processIdentifier, SIGKILL) }
    var healthy = false
    for _ in 0..<300 {
        if let data = try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/health")!),
           String(decoding: data, as: UTF8.self).contains("ok") { healthy = true; break }
        usleep(100_000)
    }
    guard healthy else { fail("llama-server did not start") }
    let remote = OpenAIChatModel(endpoint: ChatEndpoint(baseURL: "http://127.0.0.1:\(port)/v1", model: "bench", timeout: 300, contextTokens: context))

    let sampling = SamplingOptions(maxTokens: maxTokens)
    var results: [String: (ttft: [Double], rate: [Double], prompt: [Int], promptRate: [Double], reported: [Double])] =
        ["kb": ([], [], [], [], []), "llama-server": ([], [], [], [], [])]
    // One warm-up each (page the weights in), then alternate.
    _ = try? await local.complete([ChatMessage(role: "user", content: "Hello")], sampling: SamplingOptions(maxTokens: 4)) { _ in true }
    _ = try? await remote.complete([ChatMessage(role: "user", content: "Hello")], sampling: SamplingOptions(maxTokens: 4)) { _ in true }
    for (index, messages) in prompts.enumerated() {
        let order: [(String, any LanguageModel)] = index % 2 == 0 ? [("kb", local), ("llama-server", remote)] : [("llama-server", remote), ("kb", local)]
        for (name, model) in order {
            do {
                let (_, stats) = try await model.complete(messages, sampling: sampling) { _ in true }
                results[name]!.ttft.append(stats.firstTokenSeconds ?? stats.totalSeconds)
                if let rate = stats.tokensPerSecond { results[name]!.rate.append(rate) }
                results[name]!.prompt.append(stats.promptTokens)
                if stats.promptSeconds > 0 { results[name]!.promptRate.append(Double(stats.promptTokens) / stats.promptSeconds) }
                if let reported = stats.reportedTokensPerSecond { results[name]!.reported.append(reported) }
            } catch { fail("\(name): \(error)") }
        }
    }
    func median(_ values: [Double]) -> Double { percentile(values.sorted(), 50) }
    var output: [String: Any] = ["questions": prompts.count, "threads": threads, "max_tokens": maxTokens, "model": modelPath]
    for (name, r) in results {
        output[name] = ["time_to_first_token_p50": median(r.ttft), "tokens_per_second_p50": median(r.rate),
                        "prompt_tokens_p50": percentile(r.prompt.map(Double.init).sorted(), 50),
                        "prompt_tokens_per_second_p50": median(r.promptRate),
                        "server_reported_tokens_per_second_p50": r.reported.isEmpty ? (NSNull() as Any) : (median(r.reported) as Any)]
    }
    let kb = results["kb"]!, srv = results["llama-server"]!
    output["ttft_ratio_kb_over_server"] = median(kb.ttft) / max(1e-9, median(srv.ttft))
    output["rate_ratio_kb_over_server"] = median(kb.rate) / max(1e-9, median(srv.rate))
    output["prompt_rate_ratio_kb_over_server"] = median(kb.promptRate) / max(1e-9, median(srv.promptRate))
    printJSON(output)
}
