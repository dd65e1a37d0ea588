extension LinearRegex {
    /// Turns a parsed expression into instructions (Thompson's construction), refusing programs longer than
    /// `maximumProgram`.
    struct Compiler {
        var program: [Instruction] = []

        mutating func emit(_ node: Node) throws(SyntaxError) {
            switch node {
            case .empty:
                break
            case .set(let set):
                try append(.scalar(set))
            case .assert(let assertion):
                try append(.assert(assertion))
            case .concat(let nodes):
                for node in nodes { try emit(node) }
            case .alternate(let nodes):
                // split(this, next) this jump(end) split(…) … last
                var jumps: [Int] = []
                for node in nodes.dropLast() {
                    let split = try append(.split(0, 0))
                    try emit(node)
                    jumps.append(try append(.jump(0)))
                    program[split] = .split(split + 1, program.count)
                }
                if let last = nodes.last { try emit(last) }
                for jump in jumps { program[jump] = .jump(program.count) }
            case .repeated(let inner, let minimum, let maximum):
                for _ in 0..<minimum { try emit(inner) }
                if let maximum {
                    // Each optional copy may be skipped to the end: split(copy, end) copy … .
                    var splits: [Int] = []
                    for _ in minimum..<maximum {
                        splits.append(try append(.split(0, 0)))
                        try emit(inner)
                    }
                    for split in splits { program[split] = .split(split + 1, program.count) }
                } else {
                    // loop: split(body, end) body jump(loop)
                    let loop = try append(.split(0, 0))
                    try emit(inner)
                    try append(.jump(loop))
                    program[loop] = .split(loop + 1, program.count)
                }
            }
        }

        @discardableResult
        private mutating func append(_ instruction: Instruction) throws(SyntaxError) -> Int {
            guard program.count < LinearRegex.maximumProgram else {
                throw SyntaxError("expression too large", "\(LinearRegex.maximumProgram) instructions")
            }
            program.append(instruction)
            return program.count - 1
        }
    }
}
