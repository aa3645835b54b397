// A minimal code-execution service: POST /run runs a Python or sh submission in a sandbox with
// the limits it asks for (within the service's maxima) and answers with an isolate-style
// verdict. Listens on 127.0.0.1 only. See docs/recipes/code-runner.md.
//
//   dotnet run --project samples/CodeRunner
//   curl -s localhost:5080/run -H 'content-type: application/json' \
//        -d '{"language":"python","source":"print(input()[::-1])","stdin":"hello\n"}'

CodeRunner.CodeRunnerApp.Create(args).Run();
