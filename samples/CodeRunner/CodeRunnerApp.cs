using System.Net;
using Microsoft.Extensions.Options;
using Sandboxing;

namespace CodeRunner;

/// <summary>Builds the web application; <c>Program.cs</c> runs it, and tests start it on a free port.</summary>
public static class CodeRunnerApp
{
    /// <summary>
    /// The application: configuration from appsettings.json, the environment and
    /// <paramref name="args"/> (<c>--CodeRunner:Port=0</c>, <c>--Sandbox:PidsLimit=16</c>, ...),
    /// Kestrel on 127.0.0.1 only, and two endpoints: <c>POST /run</c> and <c>GET /languages</c>.
    /// </summary>
    public static WebApplication Create(string[] args)
    {
        // The content root is where appsettings.json is: next to the assembly, whoever starts it.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });

        builder.Services.AddSandboxing(builder.Configuration.GetSection(SandboxOptions.SectionName));
        builder.Services.AddOptions<RunnerOptions>()
            .Bind(builder.Configuration.GetSection(RunnerOptions.SectionName))
            .Validate(o => o.Port is >= 0 and <= 65535 && o.MaxConcurrentRuns > 0 && o.PidsLimit > 0 && o.TmpSizeMb > 0,
                "CodeRunner: Port must be 0 to 65535; MaxConcurrentRuns, PidsLimit and TmpSizeMb positive.")
            .ValidateOnStart();
        builder.Services.AddSingleton<SubmissionRunner>();
        builder.Services.AddProblemDetails();

        // Loopback only, whatever ASPNETCORE_URLS says: this service runs code for whoever can
        // reach it. Put an authenticating reverse proxy in front to expose it.
        int port = builder.Configuration.GetValue(RunnerOptions.SectionName + ":" + nameof(RunnerOptions.Port), new RunnerOptions().Port);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, port);
            k.Limits.MaxRequestBodySize = 4 << 20;
        });

        var app = builder.Build();

        app.MapGet("/languages", () => SubmissionRunner.LanguageNames);

        app.MapPost("/run", async (Submission submission, SubmissionRunner runner, HttpContext http) =>
        {
            var (limits, errors) = runner.Check(submission);
            if (errors.Count > 0)
                return Results.ValidationProblem(errors);
            try
            {
                return Results.Ok(await runner.RunAsync(submission, limits, http.RequestAborted));
            }
            catch (SandboxException e)
            {
                // The sandbox could not start: a host problem, not the submission's. The message
                // names the step, the errno and what to do (see docs/troubleshooting.md).
                return Results.Problem(e.Message, statusCode: StatusCodes.Status500InternalServerError, title: "The sandbox could not start");
            }
        });

        return app;
    }

    /// <summary>The address the started application listens on, such as <c>http://127.0.0.1:40123</c>.</summary>
    public static Uri Address(this WebApplication app) => new(app.Urls.First());
}
