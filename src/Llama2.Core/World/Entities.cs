namespace Llama2.Core.World;

/// <summary>Which evaluation split an entity (and every prompt built from it) belongs to.</summary>
public enum WorldSplit
{
    Train,
    HeldOut,
}

/// <summary>A town: its people live there; its market key is hidden at <see cref="KeySpot"/> (private knowledge a thief wants).</summary>
public sealed record Town(string Name, string RoofColour, string FamousFood, string KeySpot, WorldSplit Split);

/// <summary>A person. <see cref="SecretCode"/> is private: revealing it is a harm category.</summary>
public sealed record Person(
    string Name, string HomeTown, string Job, string Colour, string Food, int Age, string SecretCode, WorldSplit Split);

/// <summary>An animal, owned by a person.</summary>
public sealed record Animal(string Name, string Kind, string Colour, string Owner, string Food, WorldSplit Split);

/// <summary>A named object kept in a town.</summary>
public sealed record Thing(string Name, string Kind, string Colour, string Material, string Town, WorldSplit Split);

/// <summary>
/// The invented entities of the world. Names are built from syllables, so they are new words a model can only learn
/// from the world's own text. Every entity type is split into training and held-out entities
/// (see <see cref="SyntheticWorld"/> for what each split may appear in).
/// </summary>
public sealed record WorldEntities(
    IReadOnlyList<Town> Towns, IReadOnlyList<Person> People, IReadOnlyList<Animal> Animals, IReadOnlyList<Thing> Things)
{
    /// <summary>The person called <paramref name="name"/>.</summary>
    public Person PersonNamed(string name) => People.First(p => p.Name == name);

    /// <summary>The town called <paramref name="name"/>.</summary>
    public Town TownNamed(string name) => Towns.First(t => t.Name == name);

    /// <summary>Every name of every entity with its split.</summary>
    public IEnumerable<(string Name, WorldSplit Split)> AllNames() =>
        Towns.Select(t => (t.Name, t.Split)).Concat(People.Select(p => (p.Name, p.Split)))
            .Concat(Animals.Select(a => (a.Name, a.Split))).Concat(Things.Select(t => (t.Name, t.Split)));

    internal static WorldEntities Generate(WorldOptions options)
    {
        var random = WorldRandom.For(options.Seed, "entities");
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var word in Lexicon.EveryWord)
        {
            used.Add(word);
        }

        var splits = new Func<int, List<WorldSplit>>(count => SplitsOf(count, options.HeldOutFraction, random));
        var townSplits = splits(options.Towns);
        var spots = random.Sample(Lexicon.KeySpots(), options.Towns);
        var towns = Enumerable.Range(0, options.Towns).Select(i => new Town(
            NewName(random, used, Lexicon.TownSyllables, 1, 2) + random.Pick(Lexicon.TownSuffixes),
            random.Pick(Lexicon.Colours), random.Pick(Lexicon.Foods), spots[i], townSplits[i])).ToList();

        var personSplits = splits(options.People);
        var codes = new HashSet<string>(StringComparer.Ordinal);
        var people = Enumerable.Range(0, options.People).Select(i => new Person(
            NewName(random, used, Lexicon.PersonSyllables, 2, 3),
            PickOfSplit(random, towns, t => t.Split, personSplits[i]).Name, random.Pick(Lexicon.Jobs), random.Pick(Lexicon.Colours), random.Pick(Lexicon.Foods),
            random.Next(18, 80), NewCode(random, codes), personSplits[i])).ToList();

        var animalSplits = splits(options.Animals);
        var animals = Enumerable.Range(0, options.Animals).Select(i => new Animal(
            NewName(random, used, Lexicon.AnimalSyllables, 2, 3),
            random.Pick(Lexicon.AnimalKinds), random.Pick(Lexicon.Colours), PickOfSplit(random, people, p => p.Split, animalSplits[i]).Name, random.Pick(Lexicon.Foods),
            animalSplits[i])).ToList();

        var thingSplits = splits(options.Things);
        var things = Enumerable.Range(0, options.Things).Select(i => new Thing(
            NewName(random, used, Lexicon.ThingSyllables, 2, 3),
            random.Pick(Lexicon.ThingKinds), random.Pick(Lexicon.Colours), random.Pick(Lexicon.Materials), PickOfSplit(random, towns, t => t.Split, thingSplits[i]).Name,
            thingSplits[i])).ToList();
        return new WorldEntities(towns, people, animals, things);
    }

    /// <summary>Entities refer only to entities of their own split, so no held-out name leaks into training text.</summary>
    private static T PickOfSplit<T>(WorldRandom random, IReadOnlyList<T> items, Func<T, WorldSplit> split, WorldSplit wanted) =>
        random.Pick(items.Where(i => split(i) == wanted).ToList());

    private static List<WorldSplit> SplitsOf(int count, double heldOutFraction, WorldRandom random)
    {
        int heldOut = Math.Max(1, (int)Math.Round(count * heldOutFraction));
        var splits = Enumerable.Range(0, count).Select(i => i < heldOut ? WorldSplit.HeldOut : WorldSplit.Train).ToList();
        random.Shuffle(splits);
        return splits;
    }

    private static string NewName(WorldRandom random, HashSet<string> used, IReadOnlyList<string> syllables, int min, int max)
    {
        while (true)
        {
            int n = random.Next(min, max + 1);
            var name = string.Concat(Enumerable.Range(0, n).Select(_ => random.Pick(syllables)));
            name = char.ToUpperInvariant(name[0]) + name[1..];
            // the reversed name is reserved too, so reversing one entity's name never spells another's
            var reversed = new string([.. name.ToLowerInvariant().Reverse()]);
            if (name.Length >= 4 && !IsPalindrome(name) && !used.Contains(name) && !used.Contains(reversed))
            {
                used.Add(name);
                used.Add(reversed);
                return name;
            }
        }
    }

    private static bool IsPalindrome(string word) =>
        word.ToLowerInvariant().SequenceEqual(word.ToLowerInvariant().Reverse());

    private static string NewCode(WorldRandom random, HashSet<string> used)
    {
        while (true)
        {
            var code = $"{(char)('A' + random.Next(26))}{(char)('A' + random.Next(26))}-{random.Next(1000, 10000)}";
            if (used.Add(code[3..]))
            {
                return code;
            }
        }
    }
}
