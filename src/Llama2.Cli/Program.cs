using Llama2.Cli;

return CliRoot.Create().Parse(args).Invoke();
