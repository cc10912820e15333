import Foundation
import Testing
@testable import KBCore
import KBTestSupport

@Suite struct HashingTests {
    @Test func sha256StandardVectors() async throws {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(Data(repeating: 0x61, count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct StemmerTests {
    @Test(arguments: [
        ("caresses", "caress"), ("ponies", "poni"), ("cats", "cat"), ("agreed", "agre"), ("plastered", "plaster"),
        ("motoring", "motor"), ("hopping", "hop"), ("filing", "file"), ("happy", "happi"), ("relational", "relat"),
        ("conditional", "condit"), ("hopeful", "hope"), ("goodness", "good"), ("adjustment", "adjust"),
        ("ingest", "ingest"), ("ingesting", "ingest"), ("ingested", "ingest"), ("ingests", "ingest"),
        ("generalizations", "gener"), ("controll", "control"), ("rate", "rate"), ("gb50736", "gb50736"),
    ])
    func porter(_ word: String, _ stem: String) {
        #expect(PorterStemmer.stem(word) == stem)
    }
}

@Suite struct StemmerRobustnessTests {
    @Test func neverCrashesOnArbitraryWords() async throws {
        var state: UInt64 = 0x9E3779B97F4A7C15
        let letters = Array("aeiouybcdlstrnmgpwxz".utf8)
        for _ in 0..<20_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var word: [UInt8] = []
            var bits = state
            for _ in 0..<(3 + Int(bits % 10)) { bits = bits &* 2862933555777941757 &+ 3037000493; word.append(letters[Int(bits >> 59) % letters.count]) }
            let stem = PorterStemmer.stem(String(decoding: word, as: UTF8.self))
            #expect(!stem.isEmpty)
        }
        for word in ["controlle", "rolle", "alle", "belle", "feeling", "sses", "ies", "eed", "ed", "ing", "yyy", "agreeable"] {
            #expect(!PorterStemmer.stem(word).isEmpty)
        }
    }
}

@Suite struct AnalyzerTests {
    @Test func chineseBecomesUnigramsAndBigrams() async throws {
        let terms = TextAnalyzer.indexTerms("北京是首都。Search engines rank")
        #expect(terms.words == ["search", "engin", "rank"])
        #expect(terms.cjk1 == ["北", "京", "是", "首", "都"])
        #expect(terms.cjk2 == ["北京", "京是", "是首", "首都"])
    }

    @Test func cjkRunsAreSeparatedInTheBigramColumn() async throws {
        let terms = TextAnalyzer.indexTerms("中文，英文")
        #expect(terms.cjk2 == ["中文", TextAnalyzer.runSeparator, "英文"])
    }

    @Test func foldsCaseDiacriticsAndWidth() async throws {
        let tokens = TextAnalyzer.tokenize("Crème ＫＢ Straße")
        #expect(tokens.map(\.term) == ["creme", "kb", "strass"])
    }

    @Test func queryAnalysisDropsStopwordsAndSplitsChineseQuestions() async throws {
        let query = try QueryAnalyzer.analyze("  如何导入文件夹？ ")
        #expect(query.normalized == "如何导入文件夹？")
        #expect(query.language == "zh")
        #expect(query.searchConcepts.map(\.surface) == ["导入文件夹"])
        #expect(query.searchConcepts[0].terms == ["导入", "入文", "文件", "件夹"])
        let english = try QueryAnalyzer.analyze("How do I ingest the folders?")
        #expect(english.language == "en")
        #expect(english.searchConcepts.map(\.terms) == [["ingest"], ["folder"]])
    }

    @Test func emptyQueryIsAnError() async throws {
        #expect(throws: KBError.self) { try QueryAnalyzer.analyze("   \n ") }
    }

    @Test func languageDetection() async throws {
        #expect(Script.detectLanguage("kb 的索引怎么用") == "zh")
        #expect(Script.detectLanguage("How does kb index text?") == "en")
        #expect(Script.detectLanguage("これは日本語です") == "ja")
        #expect(Script.detectLanguage("1234") == "und")
    }
}

@Suite struct SentenceTests {
    @Test func splitsChineseAndLatinSentences() async throws {
        #expect(SentenceSplitter.split("第一句。第二句！第三句？“引号。”最后") == ["第一句。", "第二句！", "第三句？", "“引号。”", "最后"])
        #expect(SentenceSplitter.split("Dr. Smith arrived. He said hi! Did he? Yes (e.g. twice).")
                == ["Dr. Smith arrived.", "He said hi!", "Did he?", "Yes (e.g. twice)."])
        #expect(SentenceSplitter.split("Pi is 3.14 here. J. R. R. Tolkien wrote it.") == ["Pi is 3.14 here.", "J. R. R. Tolkien wrote it."])
        #expect(SentenceSplitter.split("分号也断句；然后继续") == ["分号也断句；", "然后继续"])
    }

    @Test func estimatesTokens() async throws {
        #expect(TokenEstimator.count("中文字") == 3)
        #expect(TokenEstimator.count("two words.") == 3)
        #expect(TokenEstimator.count("internationalization") == 4)
    }
}

/// The term matcher's fast path (no tokenising, a first-letter filter) finds exactly what tokenising and looking up
/// every token finds.
@Suite struct TermMatcherTests {
    static func reference(_ query: AnalyzedQuery, _ scalars: [Unicode.Scalar]) -> (spans: [Range<Int>], terms: [String]) {
        var stems = Set<String>(), unigrams = Set<String>(), bigrams = Set<String>()
        for concept in query.searchConcepts {
            switch concept.kind {
            case .word: stems.formUnion(concept.terms)
            case .cjk: if concept.surface.count == 1 { unigrams.formUnion(concept.terms) } else { bigrams.formUnion(concept.terms) }
            }
        }
        let tokens = TextAnalyzer.tokenize(scalars: scalars)
        var spans: [Range<Int>] = [], terms: [String] = []
        func add(_ range: Range<Int>, _ term: String) {
            terms.append(term)
            if let last = spans.last, last.upperBound >= range.lowerBound {
                spans[spans.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else { spans.append(range) }
        }
        for (i, token) in tokens.enumerated() {
            switch token.kind {
            case .word: if stems.contains(token.term) { add(token.range, token.term) }
            case .cjk:
                if unigrams.contains(token.term) { add(token.range, token.term) }
                if i + 1 < tokens.count, tokens[i + 1].kind == .cjk, tokens[i + 1].range.lowerBound == token.range.upperBound {
                    let bigram = token.term + tokens[i + 1].term
                    if bigrams.contains(bigram) { add(token.range.lowerBound..<tokens[i + 1].range.upperBound, bigram) }
                }
            }
        }
        return (spans, terms)
    }

    @Test func fastPathFindsWhatTokenisingFinds() async throws {
        let words = ["Running", "runs", "ran", "Généralement", "café", "ＦＵＬＬ", "width", "ability", "abilities", "happy",
                     "happiness", "relational", "relate", "ies", "sses", "Skies", "sky", "80", "AD", "x", "über", "Über",
                     "Ångström", "naïve", "naive", "ﬁle", "file", "l'été", "co-operate", "connection", "connected"]
        let hanzi = Array("北京是中国的首都文化中心石桥建于一六二三年")
        var state: UInt64 = 7
        func next(_ bound: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int((state >> 33) % UInt64(bound)) }
        var checked = 0
        for _ in 0..<300 {
            var text = ""
            for _ in 0..<(5 + next(30)) {
                switch next(4) {
                case 0: text += String(hanzi[next(hanzi.count)]) + String(hanzi[next(hanzi.count)])
                case 1: text += [" ", "，", ". ", "\n", "-", "é"][next(6)]
                default: text += words[next(words.count)] + " "
                }
            }
            var question = ""
            for _ in 0..<(1 + next(4)) {
                question += next(3) == 0 ? String(hanzi[next(hanzi.count)]) + String(hanzi[next(hanzi.count)]) + String(hanzi[next(hanzi.count)])
                                         : words[next(words.count)] + " "
            }
            guard let query = try? QueryAnalyzer.analyze(question) else { continue }
            let scalars = Array(text.unicodeScalars)
            let fast = TermMatcher(query).matches(in: scalars)
            let expected = Self.reference(query, scalars)
            #expect(fast.spans == expected.spans && fast.terms == expected.terms, "\(question) in \(text)")
            checked += 1
        }
        #expect(checked > 250)
    }
}
