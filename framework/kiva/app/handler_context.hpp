#pragma once
/// @file
/// Handlers and callbacks may take the framework's Context or an application's Context
/// derived from it (its generated header adds the typed queries `c.q`). with_context()
/// reads the first parameter's type and makes the derived one from the framework's.

#include <concepts>
#include <type_traits>
#include <utility>

#include "kiva/app/context.hpp"

namespace kiva {

namespace detail {

template <typename F>
struct first_parameter {
    using type = Context;  // a generic lambda: the framework's Context
};
template <typename R, typename C, typename... A>
struct first_parameter<R (*)(C&, A...)> {
    using type = C;
};
template <typename R, typename C, typename... A>
struct first_parameter<R(C&, A...)> {
    using type = C;
};
template <typename R, typename K, typename C, typename... A>
struct first_parameter<R (K::*)(C&, A...) const> {
    using type = C;
};
template <typename R, typename K, typename C, typename... A>
struct first_parameter<R (K::*)(C&, A...)> {
    using type = C;
};
template <typename F>
    requires requires { &F::operator(); }
struct first_parameter<F> : first_parameter<decltype(&F::operator())> {};

}  // namespace detail

/// The Context type a handler or callback takes (Context when it cannot be told).
template <typename F>
using context_of = std::remove_cv_t<typename detail::first_parameter<std::decay_t<F>>::type>;

/// Calls f with c, or with the application's Context made from c when f takes one.
template <typename F, typename... A>
decltype(auto) with_context(F& f, Context& c, A&&... a) {
    using C = context_of<F>;
    if constexpr (std::is_same_v<C, Context>) {
        return f(c, std::forward<A>(a)...);
    } else {
        static_assert(std::derived_from<C, Context> && std::constructible_from<C, const Context&>,
                      "a handler's first parameter is kiva::Context& or an application's "
                      "Context derived from it (made by its generated queries header)");
        C derived(c);
        return f(derived, std::forward<A>(a)...);
    }
}

}  // namespace kiva
